//! `worker enqueue`, `worker jobs` and `worker replay` from the command line.

use sqlx::PgPool;
use tokportal_sync::sim::DEMO_KEY;

use super::support::*;
use crate::helpers::{database_url, text, worker};

#[sqlx::test]
async fn enqueue_validates_and_prints_the_job_then_replay_sends_it(pool: PgPool) {
    let sim = sim().await;
    let url = database_url(&pool).await;
    let base = sim.base_url().to_string();
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("TOKPORTAL_API_KEY", DEMO_KEY),
        ("TOKPORTAL__API__BASE_URL", base.as_str()),
    ];
    let path = dir.path().to_path_buf();
    let run = move |args: &'static [&'static str]| {
        let (path, env) = (path.clone(), env.map(|(k, v)| (k, v.to_string())));
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            worker(&path, args, &env)
        })
    };
    let out = run(&["migrate"]).await.unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));

    let bad = run(&["enqueue", "POST", "/upload/video", "--body", "{}"]).await.unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("secrets"), "{}", text(&bad.stderr));
    let bad = run(&["enqueue", "POST", "/bundles", "--body", "{nope"]).await.unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("not valid JSON"));

    let out = run(&["enqueue", "POST", "/bundles", "--body", ACCOUNT_ONLY, "--idempotency-key", "cli-1"])
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (printed["status"].as_str(), printed["idempotency_key"].as_str()),
        (Some("queued"), Some("cli-1"))
    );
    assert_eq!(printed["body"].as_str(), Some(ACCOUNT_ONLY));

    let out = run(&["replay"]).await.unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("1 succeeded"), "{}", text(&out.stderr));
    assert_eq!(executions(&sim, "cli-1"), 1);

    let out = run(&["jobs", "list", "--json"]).await.unwrap();
    let listed: serde_json::Value = serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(listed["status"], "succeeded");
    let out = run(&["jobs", "show", "1"]).await.unwrap();
    assert!(
        text(&out.stdout).contains("succeeded") && text(&out.stdout).contains("201"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        !text(&out.stdout).contains(DEMO_KEY) && !text(&out.stderr).contains(DEMO_KEY),
        "the key is never printed"
    );

    let out = run(&["jobs", "retry", "1"]).await.unwrap();
    assert_eq!(out.status.code(), Some(2), "a succeeded job is not retried");
    let out = run(&["enqueue", "PATCH", "/bundles/x", "--body", "{}"]).await.unwrap();
    assert!(out.status.success());
    let out = run(&["jobs", "cancel", "2", "--json"]).await.unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("\"cancelled\""));
    sim.shutdown().await;
}

#[sqlx::test]
async fn replay_exits_3_when_the_api_refuses_the_key(pool: PgPool) {
    let sim = sim().await;
    let url = database_url(&pool).await;
    let base = sim.base_url().to_string();
    tokportal_sync::db::migrate(&pool).await.unwrap();
    enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        worker(
            &path,
            &["replay"],
            &[
                ("DATABASE_URL", url.as_str()),
                ("TOKPORTAL_API_KEY", DEMO_KEY),
                ("TOKPORTAL_WRITE_API_KEY", "sk_not_a_key_of_this_account"),
                ("TOKPORTAL__API__BASE_URL", base.as_str()),
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("TOKPORTAL_WRITE_API_KEY"));
    assert!(!text(&out.stderr).contains("sk_not_a_key_of_this_account"));
    assert_eq!(job(&pool, 1).await.status, "queued");
    sim.shutdown().await;
}

#[sqlx::test]
async fn mutations_use_the_write_key_and_its_own_budget_while_the_read_key_stays_read_only(pool: PgPool) {
    let sim = sim_with_keys(vec![
        tokportal_sync::sim::SimKey::read_only("sk_reader"),
        tokportal_sync::sim::SimKey::full("sk_writer", 1000),
    ])
    .await;
    let url = database_url(&pool).await;
    let base = sim.base_url().to_string();
    let j = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        worker(
            &path,
            &["replay"],
            &[
                ("DATABASE_URL", url.as_str()),
                ("TOKPORTAL_API_KEY", "sk_reader"),
                ("TOKPORTAL_WRITE_API_KEY", "sk_writer"),
                ("TOKPORTAL__API__BASE_URL", base.as_str()),
            ],
        )
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("sk_writer") && !text(&out.stderr).contains("sk_reader"));
    assert_eq!(job(&pool, j.id).await.status, "succeeded");
    let writer = sim.key_stats("sk_writer").unwrap();
    assert_eq!((writer.executions, sim.key_stats("sk_reader").unwrap().requests), (1, 0));
    let budgets: Vec<String> = sqlx::query_scalar("SELECT key_fingerprint FROM tokportal.api_budgets")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(budgets, vec![writer.fingerprint], "the write key has its own budget row");
    sim.shutdown().await;
}

#[sqlx::test]
async fn old_finished_jobs_are_pruned_with_their_attempts_in_batches(pool: PgPool) {
    use std::time::Duration;
    use tokportal_sync::jobs::queue;
    let sim = sim().await;
    let r = replayer(&pool, &sim);
    for _ in 0..5 {
        enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    }
    tokportal_sync::jobs::drain(&r, 2, &Default::default()).await.unwrap();
    let fresh = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    sqlx::query("UPDATE tokportal.mutation_jobs SET finished_at = now() - interval '31 days' WHERE status = 'succeeded'")
        .execute(&pool)
        .await
        .unwrap();
    let retention = Duration::from_secs(30 * 86_400);
    assert_eq!(queue::prune(&pool, retention, 3).await.unwrap(), 3);
    assert_eq!(queue::prune(&pool, retention, 3).await.unwrap(), 2);
    assert_eq!(queue::prune(&pool, retention, 3).await.unwrap(), 0);
    let left: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM tokportal.mutation_jobs").fetch_all(&pool).await.unwrap();
    assert_eq!(left, vec![fresh.id], "the queued job stays");
    let attempts: i64 = sqlx::query_scalar("SELECT count(*) FROM tokportal.mutation_attempts")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(attempts, 0);
    sim.shutdown().await;
}

/// `worker jobs retry ID --new-key`: says a new key is safe after a 4xx
/// (nothing ran), and for an expired job (it may have run) refuses without
/// `--yes`, then says it is not safe.
#[sqlx::test]
async fn retry_with_a_new_key_says_whether_it_is_safe_and_an_expired_job_needs_yes(pool: PgPool) {
    let sim = sim_with_keys(vec![tokportal_sync::sim::SimKey::full("sk_poor", 5)]).await;
    let url = database_url(&pool).await;
    let base = sim.base_url().to_string();
    let poor = replayer_with(&pool, &sim, "sk_poor", std::time::Duration::from_secs(5));
    let refused = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    step(&poor).await;
    assert_eq!(job(&pool, refused.id).await.response_status, Some(402));
    let expired = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    sqlx::query("UPDATE tokportal.mutation_jobs SET first_sent_at = now() - interval '23 hours 1 minute', attempts = 3 WHERE id = $1")
        .bind(expired.id)
        .execute(&pool)
        .await
        .unwrap();
    step(&replayer(&pool, &sim)).await;
    assert_eq!(job(&pool, expired.id).await.status, "expired");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let run = move |args: Vec<String>| {
        let (path, url, base) = (path.clone(), url.clone(), base.clone());
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            worker(
                &path,
                &args,
                &[
                    ("DATABASE_URL", url.as_str()),
                    ("TOKPORTAL_API_KEY", DEMO_KEY),
                    ("TOKPORTAL__API__BASE_URL", base.as_str()),
                ],
            )
        })
    };
    let retry = |id: i64, extra: &[&str]| {
        let mut args = vec!["jobs".to_string(), "retry".into(), id.to_string(), "--json".into()];
        args.extend(extra.iter().map(|a| a.to_string()));
        run(args)
    };

    let out = retry(refused.id, &["--new-key"]).await.unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("a new key is safe for this job"), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("402"), "it says what the API answered: {}", text(&out.stderr));
    let again = job(&pool, refused.id).await;
    assert_eq!(again.status, "queued");
    assert_ne!(again.idempotency_key, refused.idempotency_key);

    let out = retry(expired.id, &["--new-key"]).await.unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let said = text(&out.stderr);
    assert!(said.contains("NOT safe") && said.contains("--yes") && said.contains("charge twice"), "{said}");
    let untouched = job(&pool, expired.id).await;
    assert_eq!(
        (untouched.status.as_str(), untouched.idempotency_key.as_str()),
        ("expired", expired.idempotency_key.as_str())
    );

    let out = retry(expired.id, &["--new-key", "--yes"]).await.unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("not safe, confirmed with --yes"), "{}", text(&out.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["status"], "queued");
    assert_ne!(printed["idempotency_key"].as_str(), Some(expired.idempotency_key.as_str()));
    for key in [again.idempotency_key.as_str(), printed["idempotency_key"].as_str().unwrap()] {
        assert_eq!(executions(&sim, key), 0, "retrying only queues: nothing was sent");
    }
    sim.shutdown().await;
}

/// `worker enqueue --price`: a dry run (no Idempotency-Key) prints the price,
/// charges nothing, then the job is enqueued and its real send executes.
#[sqlx::test]
async fn enqueue_with_price_prints_the_price_charges_nothing_then_enqueues(pool: PgPool) {
    let sim = sim().await;
    let url = database_url(&pool).await;
    let base = sim.base_url().to_string();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let run = move |args: &'static [&'static str]| {
        let (path, url, base) = (path.clone(), url.clone(), base.clone());
        tokio::task::spawn_blocking(move || {
            worker(
                &path,
                args,
                &[
                    ("DATABASE_URL", url.as_str()),
                    ("TOKPORTAL_API_KEY", DEMO_KEY),
                    ("TOKPORTAL__API__BASE_URL", base.as_str()),
                ],
            )
        })
    };
    let out = run(&["enqueue", "PATCH", "/bundles/x", "--body", "{}", "--price"]).await.unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("creations only"), "{}", text(&out.stderr));

    let out = run(&[
        "enqueue",
        "POST",
        "/bundles",
        "--body",
        ACCOUNT_ONLY,
        "--idempotency-key",
        "priced-1",
        "--price",
    ])
    .await
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("price: 10 credits"), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains(DEMO_KEY) && !text(&out.stdout).contains(DEMO_KEY));
    assert!(sim.ledger().is_empty(), "the dry run charged nothing");
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (printed["status"].as_str(), printed["idempotency_key"].as_str()),
        (Some("queued"), Some("priced-1"))
    );

    let r = replayer(&pool, &sim);
    let id = printed["id"].as_i64().unwrap();
    assert!(matches!(step(&r).await, tokportal_sync::jobs::Outcome::Succeeded { replayed: false, .. }));
    let done = job(&pool, id).await;
    assert_eq!((done.status.as_str(), done.replayed), ("succeeded", Some(false)), "the real send executed");
    assert_eq!(executions(&sim, "priced-1"), 1);
    sim.shutdown().await;
}
