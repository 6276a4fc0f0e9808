//! A person sending a job again (`worker jobs retry`): a new key only when
//! every send proved nothing executed, a job's request frozen once sent under
//! its key, and a changed price paid only with a person's yes.

use std::process::Output;
use std::time::Duration;

use sqlx::PgPool;
use tokportal_sync::api::{IdempotencyKey, MutationMethod};
use tokportal_sync::jobs::Outcome;
use tokportal_sync::jobs::queue;
use tokportal_sync::sim::{DEMO_KEY, SimKey, SimServer};

use super::support::*;
use crate::api_support::{budget_options, client, client_options};
use crate::helpers::text;

async fn retry(pool: &PgPool, sim: &SimServer, id: i64, extra: &[&str]) -> Output {
    let id = id.to_string();
    let mut args = vec!["jobs", "retry", id.as_str(), "--json"];
    args.extend_from_slice(extra);
    cli(pool, sim, &args).await
}

fn poor(pool: &PgPool, sim: &SimServer) -> tokportal_sync::jobs::Replayer {
    replayer_with(pool, sim, "sk_poor", Duration::from_secs(5))
}

/// A history whose last answer is a 4xx, but an earlier send may have run:
/// `--new-key` is refused without `--yes`, naming that send.
async fn refused_naming(pool: &PgPool, sim: &SimServer, id: i64, attempt: &str, why: &str) {
    let before = job(pool, id).await;
    let out = retry(pool, sim, id, &["--new-key"]).await;
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("NOT safe") && said.contains(attempt) && said.contains(why), "{said}");
    assert!(said.contains("--yes") && said.contains("charge twice"), "{said}");
    let after = job(pool, id).await;
    assert_eq!((after.status.as_str(), after.idempotency_key), ("failed", before.idempotency_key));
}

#[sqlx::test]
async fn a_5xx_before_the_last_refusal_leaves_a_new_key_unsafe(pool: PgPool) {
    let sim = sim_with_keys(vec![SimKey::full("sk_poor", 5)]).await;
    let j = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    sim.update_faults(|f| f.fail_next = 1).unwrap();
    assert!(matches!(step(&poor(&pool, &sim)).await, Outcome::Retrying { .. }));
    make_due(&pool, j.id).await;
    assert!(matches!(step(&poor(&pool, &sim)).await, Outcome::Failed { .. }));
    assert_eq!(job(&pool, j.id).await.response_status, Some(402));
    refused_naming(&pool, &sim, j.id, "attempt 1", "503").await;

    let out = retry(&pool, &sim, j.id, &["--new-key", "--yes"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("not safe, confirmed with --yes"), "{}", text(&out.stderr));
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_lost_answer_leaves_a_new_key_unsafe_even_when_the_replay_was_a_refusal(pool: PgPool) {
    let sim = sim_with_keys(vec![SimKey::full("sk_poor", 5)]).await;
    let j = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    sim.update_faults(|f| f.drop_next = 1).unwrap();
    assert!(matches!(step(&poor(&pool, &sim)).await, Outcome::Retrying { .. }));
    make_due(&pool, j.id).await;
    assert!(matches!(step(&poor(&pool, &sim)).await, Outcome::Failed { .. }));
    refused_naming(&pool, &sim, j.id, "attempt 1", "no answer").await;
    sim.shutdown().await;
}

#[sqlx::test]
async fn idempotency_key_reused_means_something_ran_under_the_key_and_a_new_key_is_unsafe(pool: PgPool) {
    let sim = sim().await;
    let j = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    // Another request ran under the job's key first (and was charged).
    let other = client(client_options(&sim, DEMO_KEY), budget_options(100.0, 100));
    let key = IdempotencyKey::new(j.idempotency_key.as_str()).unwrap();
    let body = r#"{"bundle_type":"account_only","platform":"tiktok","country":"FR"}"#;
    other.mutate(MutationMethod::Post, "/bundles", &key, Some(body)).await.unwrap();
    assert!(
        matches!(step(&replayer(&pool, &sim)).await, Outcome::Failed { code: Some(c), .. } if c == "IDEMPOTENCY_KEY_REUSED")
    );
    refused_naming(&pool, &sim, j.id, "attempt 1", "IDEMPOTENCY_KEY_REUSED").await;
    sim.shutdown().await;
}

async fn edit(pool: &PgPool, id: i64, set: &str) -> Result<(), String> {
    sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE tokportal.mutation_jobs SET {set} WHERE id = $1")))
        .bind(id)
        .execute(pool)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

#[sqlx::test]
async fn once_sent_under_its_key_a_job_s_request_cannot_change_but_a_retry_s_new_key_can_be_set(
    pool: PgPool,
) {
    let sim = sim_with_keys(vec![SimKey::full("sk_poor", 5)]).await;
    let j = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    edit(&pool, j.id, "body = body || ' '").await.expect("before the first send, edits are fine");
    sim.update_faults(|f| f.drop_next = 1).unwrap();
    step(&poor(&pool, &sim)).await;
    for set in [
        "body = '{}'",
        "path = '/bundles/bulk'",
        "method = 'PUT'",
        "idempotency_key = 'mine'",
        "idempotency_key = 'mine', first_sent_at = NULL",
    ] {
        let refused = edit(&pool, j.id, set).await.expect_err(set);
        assert!(refused.contains("already sent"), "{set}: {refused}");
    }
    make_due(&pool, j.id).await;
    step(&poor(&pool, &sim)).await;
    let failed = job(&pool, j.id).await;
    assert_eq!(failed.status, "failed");
    assert!(edit(&pool, j.id, "idempotency_key = 'mine'").await.is_err(), "not without the retry's reset");

    // Queued again under the same key: still frozen (the key was sent).
    let same = queue::requeue(&pool, j.id, "failed", false).await.unwrap().unwrap();
    assert_eq!(same.idempotency_key, failed.idempotency_key);
    assert!(edit(&pool, j.id, "body = '{}'").await.is_err());
    edit(&pool, j.id, "status = 'failed'").await.unwrap();

    // The worker's own new key goes through, and nothing was sent under it yet.
    let fresh = queue::requeue(&pool, j.id, "failed", true).await.unwrap().expect("the new key is set");
    assert_ne!(fresh.idempotency_key, failed.idempotency_key);
    edit(&pool, j.id, "body = body || ' '").await.expect("not sent under the new key yet");
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_changed_price_is_replayed_under_its_key_and_paid_only_once_a_person_accepts_it(pool: PgPool) {
    let sim = sim().await;
    let r = replayer(&pool, &sim);
    let j = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    sim.update_faults(|f| f.pricing_changed_next = 1).unwrap();
    assert!(matches!(step(&r).await, Outcome::Failed { code: Some(c), .. } if c == "BUNDLE_PRICING_CHANGED"));

    // The API stored the answer under the key: the same key replays it.
    queue::requeue(&pool, j.id, "failed", false).await.unwrap().unwrap();
    assert!(matches!(step(&r).await, Outcome::Failed { code: Some(c), .. } if c == "BUNDLE_PRICING_CHANGED"));
    assert_eq!(attempts(&pool, j.id).await[1], (Some("failed".into()), Some(409), None));
    assert!(sim.ledger().is_empty(), "nothing executed under the old key");
    assert_eq!(sim.key_stats(DEMO_KEY).unwrap().replays, 1);

    let out = retry(&pool, &sim, j.id, &[]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("never sent again under its key"), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--new-key"));

    let out = retry(&pool, &sim, j.id, &["--new-key"]).await;
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("price: 10 credits now") && said.contains("--accept-price 10"), "{said}");
    let out = retry(&pool, &sim, j.id, &["--new-key", "--accept-price", "9.5"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("asks 10 credits now, not the 9.5"), "{}", text(&out.stderr));
    let untouched = job(&pool, j.id).await;
    assert_eq!((untouched.status.as_str(), untouched.idempotency_key), ("failed", j.idempotency_key.clone()));

    let out = retry(&pool, &sim, j.id, &["--new-key", "--accept-price", "10"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("accepted with --accept-price"), "{}", text(&out.stderr));
    assert!(sim.ledger().is_empty(), "the dry runs charged nothing");
    let queued = job(&pool, j.id).await;
    assert_ne!(queued.idempotency_key, j.idempotency_key);
    assert!(matches!(step(&r).await, Outcome::Succeeded { replayed: false, .. }));
    assert_eq!(executions(&sim, &queued.idempotency_key), 1);
    sim.shutdown().await;
}
