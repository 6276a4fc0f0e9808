//! What the operator sees: `jobs show` counts failed sends right, every
//! answer's request id is kept, unknown `--status` and `--stream` values and
//! a request the API would refuse for certain are refused with exit 2.

use sqlx::PgPool;
use tokportal_sync::api::{IdempotencyKey, MutationMethod};
use tokportal_sync::jobs::{Outcome, queue};
use tokportal_sync::sim::DEMO_KEY;

use super::support::*;
use crate::api_support::{budget_options, client, client_options};
use crate::helpers::text;

#[sqlx::test]
async fn jobs_show_counts_only_the_sends_that_failed(pool: PgPool) {
    let sim = sim().await;
    let r = replayer(&pool, &sim);
    let first = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    assert!(matches!(step(&r).await, Outcome::Succeeded { .. }));
    let out = cli(&pool, &sim, &["jobs", "show", &first.id.to_string()]).await;
    assert!(text(&out.stdout).contains("0 failed of 1 sends"), "{}", text(&out.stdout));

    let second = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    sim.update_faults(|f| f.fail_next = 1).unwrap();
    assert!(matches!(step(&r).await, Outcome::Retrying { .. }));
    make_due(&pool, second.id).await;
    assert!(matches!(step(&r).await, Outcome::Succeeded { .. }));
    let out = cli(&pool, &sim, &["jobs", "show", &second.id.to_string()]).await;
    assert!(text(&out.stdout).contains("1 failed of 2 sends"), "{}", text(&out.stdout));
    sim.shutdown().await;
}

#[sqlx::test]
async fn the_request_id_is_kept_for_a_404_a_409_and_a_401(pool: PgPool) {
    let sim = sim().await;
    let r = replayer(&pool, &sim);
    let missing = enqueue(&pool, "PATCH", "/bundles/no-such-bundle", Some(r#"{"title":"x"}"#)).await;
    assert!(matches!(step(&r).await, Outcome::Failed { .. }));
    let reused = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    let other = client(client_options(&sim, DEMO_KEY), budget_options(100.0, 100));
    let key = IdempotencyKey::new(reused.idempotency_key.as_str()).unwrap();
    other.mutate(MutationMethod::Post, "/bundles", &key, Some("{}")).await.ok();
    assert!(matches!(step(&r).await, Outcome::Failed { code: Some(c), .. } if c == "IDEMPOTENCY_KEY_REUSED"));
    let refused = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    assert!(sim.revoke(DEMO_KEY));
    assert!(matches!(step(&r).await, Outcome::KeyRefused { .. }));

    for (id, status) in [(missing.id, 404), (reused.id, 409), (refused.id, 401)] {
        let sends = queue::attempts(&pool, id).await.unwrap();
        let last = sends.last().expect("an attempt");
        assert_eq!(last.http_status, Some(status));
        let request_id = last.request_id.as_deref().unwrap_or_default();
        assert!(request_id.starts_with("tps_"), "HTTP {status}: {request_id:?}");
    }
    sim.shutdown().await;
}

#[sqlx::test]
async fn unknown_status_and_stream_values_are_refused_with_exit_2(pool: PgPool) {
    let sim = sim().await;
    tokportal_sync::db::migrate(&pool).await.unwrap();
    for args in [["jobs", "list", "--status", "done"], ["runs", "--stream", "bundels", "--json"]] {
        let out = cli(&pool, &sim, &args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("possible values"), "{}", text(&out.stderr));
    }
    for args in [["jobs", "list", "--status", "failed"], ["runs", "--stream", "bundles", "--json"]] {
        let out = cli(&pool, &sim, &args).await;
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
    sim.shutdown().await;
}

#[sqlx::test]
async fn enqueue_refuses_a_missing_required_body_and_names_a_space_in_the_key(pool: PgPool) {
    let sim = sim().await;
    tokportal_sync::db::migrate(&pool).await.unwrap();
    let out = cli(&pool, &sim, &["enqueue", "POST", "/bundles"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("needs a JSON body"), "{}", text(&out.stderr));
    let out = cli(
        &pool,
        &sim,
        &["enqueue", "POST", "/bundles", "--body", ACCOUNT_ONLY, "--idempotency-key", "my key"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let said = text(&out.stderr);
    assert!(said.contains("a space at character 3") && !said.contains("255"), "{said}");
    let out = cli(&pool, &sim, &["enqueue", "POST", "/bundles/b1/publish"]).await;
    assert!(out.status.success(), "no body needed: {}", text(&out.stderr));
    sim.shutdown().await;
}
