//! A daemon and a concurrent `worker --once` on one database share the work:
//! a stream is never walked by both at once, a job is never sent twice.

use std::time::Duration;

use sqlx::PgPool;

use super::once::{enqueue, sim};
use super::support::{Worker, config, env, run, scalar, until};
use crate::helpers::{database_url, text};

#[sqlx::test]
async fn a_daemon_and_a_concurrent_once_share_the_work_without_double_walks_or_double_sends(pool: PgPool) {
    let sim = sim(200).await;
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &["bundles"], "* * * * * *");
    // 20 pages at 20 requests a second: a walk lasts about a second.
    let env = env(&url, sim.base_url().as_str(), "20");
    let out = run(dir.path(), &["migrate"], &env).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    for _ in 0..10 {
        enqueue(&pool).await;
    }
    let mut daemon = Worker::spawn(dir.path(), &[], &env);
    daemon.line("daemon running", Duration::from_secs(30)).await;
    let (a, b) = tokio::join!(run(dir.path(), &["--once"], &env), run(dir.path(), &["--once"], &env));
    for out in [a, b] {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    until(
        &pool,
        "SELECT count(*) FROM tokportal.mutation_jobs WHERE status = 'succeeded'",
        Duration::from_secs(30),
        |n| n == 10,
    )
    .await;
    until(
        &pool,
        "SELECT count(*) FROM tokportal.sync_runs WHERE status = 'succeeded'",
        Duration::from_secs(30),
        |n| n >= 2,
    )
    .await;
    daemon.sigterm();
    assert_eq!(daemon.exit_within(Duration::from_secs(10)).await.code(), Some(0), "{}", daemon.log());

    assert_eq!(sim.ledger().len(), 10, "each job executed once");
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM tokportal.mutation_attempts").await,
        10,
        "each job sent once"
    );
    let overlapping = scalar(
        &pool,
        "SELECT count(*) FROM tokportal.sync_runs a JOIN tokportal.sync_runs b
           ON a.stream = b.stream AND a.id < b.id
          AND tstzrange(a.started_at, a.finished_at) && tstzrange(b.started_at, b.finished_at)",
    )
    .await;
    assert_eq!(overlapping, 0, "no stream walked by two processes at once");
    assert_eq!(scalar(&pool, "SELECT count(*) FROM tokportal.bundles WHERE deleted_at IS NULL").await, 210);
    sim.shutdown().await;
}
