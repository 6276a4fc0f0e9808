//! `worker --once`: one cycle (migrate, replay, sync) and its exit status in
//! each case, and `--max-duration`.

use sqlx::PgPool;
use tokportal_sync::sim::{self, FaultTarget, SimConfig, SimServer};

use super::support::{config, env, run, scalar};
use crate::helpers::{database_url, text};

pub async fn sim(bundles: usize) -> SimServer {
    sim::start(SimConfig { bundles, rate_limit: false, ..SimConfig::default() })
        .await
        .expect("the simulator starts")
}

/// A simulator whose bucket holds one request and refills `rate` a second:
/// the worker's budget, told by its headers, paces the walk to that rate.
pub async fn paced_sim(bundles: usize, rate: f64) -> SimServer {
    sim::start(SimConfig { bundles, rate_per_second: rate, burst: 1, ..SimConfig::default() })
        .await
        .expect("the simulator starts")
}

pub const ACCOUNT_ONLY: &str = r#"{"bundle_type":"account_only","platform":"tiktok","country":"US"}"#;

/// Enqueues a creation the way an application does: one INSERT.
pub async fn enqueue(pool: &PgPool) {
    sqlx::query("INSERT INTO tokportal.mutation_jobs (method, path, body) VALUES ('POST', '/bundles', $1)")
        .bind(ACCOUNT_ONLY)
        .execute(pool)
        .await
        .unwrap();
}

#[sqlx::test(migrations = false)]
async fn once_migrates_replays_then_syncs_and_a_job_failed_for_business_reasons_does_not_fail_it(
    pool: PgPool,
) {
    let sim = sim(25).await;
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &["bundles"], "0 */15 * * * *");
    let env = env(&url, sim.base_url().as_str(), "1000");
    let out = run(dir.path(), &["migrate"], &env).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    enqueue(&pool).await;
    enqueue(&pool).await;
    // The first job sent meets a 409 on the bundle's price: failed for a business reason.
    sim.update_faults(|f| {
        f.target = FaultTarget::Writes;
        f.pricing_changed_next = 1;
    })
    .unwrap();

    let out = run(dir.path(), &["--once"], &env).await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let last = err.lines().last().unwrap();
    assert!(last.starts_with("cycle ran ") && last.contains(" s and completed: "), "{err}");
    assert!(last.contains("replay 1 succeeded") && last.contains("1 failed"), "{last}");
    assert!(last.contains("bundles succeeded"), "{last}");
    // Replay ran before the sync: the bundle it created is mirrored.
    assert_eq!(scalar(&pool, "SELECT count(*) FROM tokportal.bundles WHERE deleted_at IS NULL").await, 26);
    sim.shutdown().await;
}

#[sqlx::test]
async fn once_exits_1_when_a_stream_cannot_be_walked_completely(pool: PgPool) {
    let sim = sim(25).await;
    sim.update_faults(|f| f.malformed_next = 1).unwrap();
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &["bundles"], "0 */15 * * * *");
    let out = run(dir.path(), &["--once"], &env(&url, sim.base_url().as_str(), "1000")).await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("stream bundles failed"), "{err}");
    sim.shutdown().await;
}

#[tokio::test]
async fn once_exits_1_when_the_database_does_not_answer() {
    let dir = tempfile::tempdir().unwrap();
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let env = env("postgres://postgres@127.0.0.1:1/postgres", "http://127.0.0.1:1/api/ext", "1000");
    let out = run(dir.path(), &["--once"], &env).await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("connection refused"), "{err}");
}

#[tokio::test]
async fn once_exits_2_on_a_configuration_or_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = env("postgres://postgres@127.0.0.1:1/postgres", "http://127.0.0.1:1/api/ext", "1000");
    let out = run(dir.path(), &["--once", "sync"], &env).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = run(dir.path(), &["--max-duration", "10s"], &env).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = run(dir.path(), &["--once", "--max-duration", "soon"], &env).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    env.push(("TOKPORTAL__SERVER__LISTEN", "localhost".into()));
    let out = run(dir.path(), &["--once"], &env).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("server.listen"), "{}", text(&out.stderr));
}

#[sqlx::test]
async fn once_exits_3_when_the_api_refuses_the_key(pool: PgPool) {
    let sim = sim(5).await;
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &["bundles"], "0 */15 * * * *");
    let mut env = env(&url, sim.base_url().as_str(), "1000");
    let wrong = "sk_0000000000000000000000000000000000000000000000000000000000000000";
    env.push(("TOKPORTAL_API_KEY", wrong.into()));
    let out = run(dir.path(), &["--once"], &env).await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(!err.contains(wrong), "the key never shows");
    sim.shutdown().await;
}

#[sqlx::test]
async fn max_duration_stops_at_a_page_boundary_exits_0_and_the_next_run_resumes(pool: PgPool) {
    let sim = paced_sim(200, 20.0).await;
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &["bundles"], "0 */15 * * * *");
    // 20 pages at 10 requests a second (the simulator allows 20): 2 s, past the 1 s budget.
    let out =
        run(dir.path(), &["--once", "--max-duration", "1s"], &env(&url, sim.base_url().as_str(), "10")).await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let last = err.lines().last().unwrap();
    assert!(last.contains("stopped at --max-duration 1s") && last.contains("resumes next run"), "{last}");
    let (status, last_page): (String, i32) =
        sqlx::query_as("SELECT status, last_page FROM tokportal.sync_runs").fetch_one(&pool).await.unwrap();
    assert_eq!(status, "interrupted");
    assert_eq!(scalar(&pool, "SELECT count(*) FROM tokportal.bundles").await, i64::from(last_page) * 10);

    assert!(last_page < 20, "stopped before the end of the walk");
    let out = run(dir.path(), &["--once"], &env(&url, sim.base_url().as_str(), "10")).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let runs: Vec<(String, String)> =
        sqlx::query_as("SELECT kind, status FROM tokportal.sync_runs ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(runs[1], ("resumed".into(), "succeeded".into()));
    assert_eq!(scalar(&pool, "SELECT count(*) FROM tokportal.bundles WHERE deleted_at IS NULL").await, 200);
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_job_refused_for_want_of_credits_402_is_reported_and_does_not_fail_the_cycle(pool: PgPool) {
    // A key with no credits: every creation is answered 402 INSUFFICIENT_CREDITS.
    let sim = sim::start(SimConfig {
        bundles: 5,
        rate_limit: false,
        keys: vec![sim::SimKey::full(sim::DEMO_KEY, 0)],
        ..SimConfig::default()
    })
    .await
    .expect("the simulator starts");
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &["bundles"], "0 */15 * * * *");
    let env = env(&url, sim.base_url().as_str(), "1000");
    let out = run(dir.path(), &["migrate"], &env).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    enqueue(&pool).await;
    let out = run(dir.path(), &["--once"], &env).await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let last = err.lines().last().unwrap();
    assert!(last.starts_with("cycle ran ") && last.contains(" s and completed: "), "{err}");
    assert!(last.contains("replay 0 succeeded") && last.contains("1 failed"), "{last}");
    let (status, code, http): (String, Option<String>, Option<i32>) =
        sqlx::query_as("SELECT status, error_code, response_status FROM tokportal.mutation_jobs")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), code.as_deref(), http), ("failed", Some("INSUFFICIENT_CREDITS"), Some(402)));
    assert_eq!(sim.key_stats(sim::DEMO_KEY).unwrap().credits_debited, 0, "nothing charged");
    sim.shutdown().await;
}
