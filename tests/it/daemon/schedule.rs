//! A scheduled sync still running when the next tick comes is not started
//! twice: with a tick every second and a walk paced to take several seconds,
//! the daemon's walks follow each other, never overlap, and none was skipped
//! for finding the stream locked (which a second concurrent start would be).

use std::time::Duration;

use sqlx::PgPool;

use super::once::paced_sim;
use super::support::{Worker, config, env, until};
use crate::helpers::database_url;

#[sqlx::test]
async fn a_tick_that_comes_while_the_sync_runs_starts_no_second_walk(pool: PgPool) {
    // 40 bundles, 10 a page, one request a second after the first: each walk
    // takes at least 3 s, so at least two ticks come while it runs.
    let sim = paced_sim(40, 1.0).await;
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &["bundles"], "* * * * * *");
    let mut daemon = Worker::spawn(dir.path(), &[], &env(&url, sim.base_url().as_str(), "1"));
    until(
        &pool,
        "SELECT count(*) FROM tokportal.sync_runs WHERE status = 'succeeded'",
        Duration::from_secs(60),
        |n| n >= 2,
    )
    .await;
    daemon.sigterm();
    assert_eq!(daemon.exit_within(Duration::from_secs(15)).await.code(), Some(0), "{}", daemon.log());

    let runs: Vec<(chrono::DateTime<chrono::Utc>, Option<chrono::DateTime<chrono::Utc>>)> =
        sqlx::query_as("SELECT started_at, finished_at FROM tokportal.sync_runs ORDER BY started_at")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(runs.len() >= 2, "{runs:?}");
    for pair in runs.windows(2) {
        let (_, finished) = pair[0];
        let (next_started, _) = pair[1];
        let finished = finished.expect("a run followed by another has finished");
        assert!(finished <= next_started, "runs overlap: {pair:?}");
    }
    let first = runs[0];
    let took = (first.1.unwrap() - first.0).to_std().unwrap();
    assert!(took >= Duration::from_secs(2), "the walk outlasted a tick: {took:?}");
    let log = daemon.log();
    assert!(!log.contains("another process is walking"), "no tick tried a second walk: {log}");
    sim.shutdown().await;
}
