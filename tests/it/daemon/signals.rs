//! SIGTERM stops the worker cleanly: during a walk the page in flight is
//! committed or not at all, during a replay the job in flight is sent, its
//! answer recorded, and nothing is left claimed; the exit status is 0, in
//! time, and the next run finishes the work.

use std::time::Duration;

use secrecy::SecretString;
use sqlx::PgPool;
use tokportal_sync::secret;
use tokportal_sync::sim::{DEMO_KEY, FaultTarget};

use super::once::{enqueue, paced_sim, sim};
use super::support::{Worker, config, env, run, scalar, until};
use crate::helpers::{database_url, text};

/// The bound on a clean stop in these tests (`server.shutdown_timeout_secs` is 10).
const STOP_WITHIN: Duration = Duration::from_secs(10);

#[sqlx::test]
async fn sigterm_during_a_walk_exits_0_with_whole_pages_committed_and_the_next_run_finishes(pool: PgPool) {
    let sim = paced_sim(200, 20.0).await;
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &["bundles"], "0 */15 * * * *");
    let mut worker = Worker::spawn(dir.path(), &["--once"], &env(&url, sim.base_url().as_str(), "10"));
    until(&pool, "SELECT max(last_page)::int8 FROM tokportal.sync_runs", Duration::from_secs(30), |p| p >= 3)
        .await;
    worker.sigterm();
    let status = worker.exit_within(STOP_WITHIN).await;
    assert_eq!(status.code(), Some(0), "{}", worker.log());
    assert!(worker.log().contains("resumes next run"), "{}", worker.log());
    let (state, last_page): (String, i32) =
        sqlx::query_as("SELECT status, last_page FROM tokportal.sync_runs").fetch_one(&pool).await.unwrap();
    assert_eq!(state, "interrupted");
    assert!(last_page < 20, "stopped before the end");
    // Every committed page whole, nothing of the page after it.
    assert_eq!(scalar(&pool, "SELECT count(*) FROM tokportal.bundles").await, i64::from(last_page) * 10);

    let out = run(dir.path(), &["--once"], &env(&url, sim.base_url().as_str(), "10")).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(scalar(&pool, "SELECT count(*) FROM tokportal.bundles WHERE deleted_at IS NULL").await, 200);
    sim.shutdown().await;
}

/// Waits until the simulator holds a mutation mid-execution (`slow_ms`):
/// the request has left, so a stop must await its answer. (A job only
/// claimed may still be waiting for the budget: a stop then releases it unsent.)
async fn in_flight(sim: &tokportal_sync::sim::SimServer) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while sim.key_stats(DEMO_KEY).unwrap().in_flight == 0 {
        assert!(std::time::Instant::now() < deadline, "no send reached the simulator within 10 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[sqlx::test]
async fn sigterm_during_a_replay_records_the_job_in_flight_releases_the_rest_and_exits_0(pool: PgPool) {
    let sim = sim(5).await;
    // Every mutation is held 1.5 s before it executes: SIGTERM lands mid-send.
    sim.update_faults(|f| {
        f.target = FaultTarget::Writes;
        f.slow_ms = 1500;
    })
    .unwrap();
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &["bundles"], "0 0 0 1 1 *");
    let env = env(&url, sim.base_url().as_str(), "1000");
    let mut daemon = Worker::spawn(dir.path(), &[], &env);
    daemon.line("daemon running", Duration::from_secs(30)).await;
    enqueue(&pool).await;
    enqueue(&pool).await;
    // Woken by NOTIFY: the first job is claimed and its send in flight.
    in_flight(&sim).await;
    daemon.sigterm();
    let status = daemon.exit_within(STOP_WITHIN).await;
    assert_eq!(status.code(), Some(0), "{}", daemon.log());
    let states: Vec<String> = sqlx::query_scalar("SELECT status FROM tokportal.mutation_jobs ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(
        states,
        ["succeeded", "queued"],
        "the send in flight was recorded; the next job was not claimed"
    );
    assert_eq!(sim.ledger().len(), 1);

    sim.update_faults(|f| f.slow_ms = 0).unwrap();
    let out = run(dir.path(), &["--once"], &env).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM tokportal.mutation_jobs WHERE status = 'succeeded'").await,
        2
    );
    assert_eq!(sim.ledger().len(), 2, "each job executed once");
    sim.shutdown().await;
}

#[sqlx::test]
async fn sigterm_during_worker_replay_records_the_job_in_flight_releases_the_rest_and_exits_0(pool: PgPool) {
    let sim = sim(5).await;
    // Every mutation is held 1.5 s before it executes: SIGTERM lands mid-send.
    sim.update_faults(|f| {
        f.target = FaultTarget::Writes;
        f.slow_ms = 1500;
    })
    .unwrap();
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &["bundles"], "0 0 0 1 1 *");
    let env = env(&url, sim.base_url().as_str(), "1000");
    let out = run(dir.path(), &["migrate"], &env).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    enqueue(&pool).await;
    enqueue(&pool).await;
    let mut replay = Worker::spawn(dir.path(), &["replay"], &env);
    in_flight(&sim).await;
    replay.sigterm();
    let status = replay.exit_within(STOP_WITHIN).await;
    assert_eq!(status.code(), Some(0), "{}", replay.log());
    assert!(replay.log().contains("stopped by a signal"), "{}", replay.log());
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM tokportal.mutation_jobs WHERE status = 'running'").await,
        0
    );
    let states: Vec<String> = sqlx::query_scalar("SELECT status FROM tokportal.mutation_jobs ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(
        states,
        ["succeeded", "queued"],
        "the send in flight was recorded; the next job was not claimed"
    );
    assert_eq!(sim.ledger().len(), 1);

    sim.update_faults(|f| f.slow_ms = 0).unwrap();
    let out = run(dir.path(), &["replay"], &env).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM tokportal.mutation_jobs WHERE status = 'succeeded'").await,
        2
    );
    assert_eq!(sim.ledger().len(), 2, "each job executed once, none twice");
    sim.shutdown().await;
}

/// The key blocked by another process's long 429 (the store says 200 s).
pub async fn block_the_key(pool: &PgPool) {
    let ours = secret::fingerprint(&SecretString::from(DEMO_KEY));
    sqlx::query(
        "INSERT INTO tokportal.api_budgets (key_fingerprint, tat, blocked_until, probe_at)
         VALUES ($1, now(), now() + interval '200 seconds', now() + interval '200 seconds')",
    )
    .bind(&ours)
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test]
async fn sigterm_while_a_job_waits_out_a_long_block_exits_0_in_time_and_leaves_it_unsent(pool: PgPool) {
    let sim = sim(5).await;
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &["bundles"], "0 */15 * * * *");
    let env = env(&url, sim.base_url().as_str(), "1000");
    block_the_key(&pool).await;
    enqueue(&pool).await;
    let mut worker = Worker::spawn(dir.path(), &["--once"], &env);
    // Claimed, then waiting for the key's budget (200 s away).
    until(
        &pool,
        "SELECT count(*) FROM tokportal.mutation_jobs WHERE status = 'running'",
        Duration::from_secs(30),
        |n| n == 1,
    )
    .await;
    worker.sigterm();
    let status = worker.exit_within(STOP_WITHIN).await;
    let log = worker.log();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("1 not sent (stopping; still queued)"), "{log}");
    assert!(log.contains("resumes next run"), "{log}");
    let (state, attempts, first_sent): (String, i32, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as("SELECT status, attempts, first_sent_at FROM tokportal.mutation_jobs")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((state.as_str(), attempts, first_sent), ("queued", 0, None), "back as it was");
    assert_eq!(sim.key_stats(DEMO_KEY).unwrap().requests, 0, "nothing was sent");
    assert!(sim.ledger().is_empty());

    // Once the block is gone, the next run sends it, once.
    sqlx::query("DELETE FROM tokportal.api_budgets").execute(&pool).await.unwrap();
    let out = run(dir.path(), &["--once"], &env).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM tokportal.mutation_jobs WHERE status = 'succeeded'").await,
        1
    );
    assert_eq!(sim.ledger().len(), 1, "executed once");
    sim.shutdown().await;
}

#[sqlx::test]
async fn max_duration_ends_a_walk_waiting_for_a_blocked_key_with_exit_0(pool: PgPool) {
    let sim = sim(30).await;
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &["bundles"], "0 */15 * * * *");
    let env = env(&url, sim.base_url().as_str(), "1000");
    block_the_key(&pool).await;
    // The mirror already holds the key's account (as after a first sync), so
    // the walk starts without asking `GET /me`.
    let ours = secret::fingerprint(&SecretString::from(DEMO_KEY));
    sqlx::query("INSERT INTO tokportal.mirror_account (account_id, key_fingerprints) VALUES ($1, ARRAY[$2])")
        .bind(tokportal_sync::sim::SimKey::full(DEMO_KEY, 0).account_id())
        .bind(&ours)
        .execute(&pool)
        .await
        .unwrap();
    let mut worker = Worker::spawn(dir.path(), &["--once", "--max-duration", "5s"], &env);
    // The walk starts; its first page would wait 200 s; the deadline ends the wait instead.
    until(&pool, "SELECT count(*) FROM tokportal.sync_runs", Duration::from_secs(30), |n| n == 1).await;
    let status = worker.exit_within(Duration::from_secs(60)).await;
    let log = worker.log();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("stopped at --max-duration 5s at a page boundary"), "{log}");
    assert!(log.contains("resumes next run"), "{log}");
    let state: String =
        sqlx::query_scalar("SELECT status FROM tokportal.sync_runs").fetch_one(&pool).await.unwrap();
    assert_eq!(state, "interrupted");
    assert_eq!(scalar(&pool, "SELECT count(*) FROM tokportal.bundles").await, 0);
    assert_eq!(sim.key_stats(DEMO_KEY).unwrap().requests, 0, "nothing was sent");
    sim.shutdown().await;
}

#[sqlx::test]
async fn sigint_during_worker_sync_exits_0_at_a_page_boundary_and_the_next_sync_finishes(pool: PgPool) {
    let sim = paced_sim(200, 20.0).await;
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &["bundles"], "0 */15 * * * *");
    let env = env(&url, sim.base_url().as_str(), "10");
    let out = run(dir.path(), &["migrate"], &env).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut worker = Worker::spawn(dir.path(), &["sync"], &env);
    until(&pool, "SELECT max(last_page)::int8 FROM tokportal.sync_runs", Duration::from_secs(30), |p| p >= 3)
        .await;
    worker.sigint();
    let status = worker.exit_within(STOP_WITHIN).await;
    let log = worker.log();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("SIGINT"), "{log}");
    assert!(log.contains("bundles: interrupted"), "{log}");
    let last_page: i32 =
        sqlx::query_scalar("SELECT last_page FROM tokportal.sync_runs").fetch_one(&pool).await.unwrap();
    assert!(last_page < 20, "stopped before the end");
    assert_eq!(scalar(&pool, "SELECT count(*) FROM tokportal.bundles").await, i64::from(last_page) * 10);

    let out = run(dir.path(), &["sync"], &env).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(scalar(&pool, "SELECT count(*) FROM tokportal.bundles WHERE deleted_at IS NULL").await, 200);
    sim.shutdown().await;
}
