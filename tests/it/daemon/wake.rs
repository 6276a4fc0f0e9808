//! A plain `INSERT` into the queue wakes the daemon's replay through the
//! table's NOTIFY: with polling set to an hour, only the notification can
//! make the job run.

use std::time::Duration;

use sqlx::PgPool;

use super::once::{enqueue, sim};
use super::support::{Worker, config, env, run, until};
use crate::helpers::text;

#[sqlx::test]
async fn an_insert_wakes_the_daemons_replay_without_waiting_for_the_poll(pool: PgPool) {
    let sim = sim(10).await;
    let url = crate::helpers::database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    // A schedule that never comes during the test: only replay works.
    config(dir.path(), &["bundles"], "0 0 0 1 1 *");
    let mut env = env(&url, sim.base_url().as_str(), "20");
    env.push(("TOKPORTAL__JOBS__POLL_INTERVAL_SECS", "3600".into()));
    let out = run(dir.path(), &["migrate"], &env).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut daemon = Worker::spawn(dir.path(), &[], &env);
    daemon.line("daemon running", Duration::from_secs(30)).await;
    // The listener is up before the first drain, so this insert either is
    // drained at start or wakes the replay; the second comes once the replay
    // has gone back to waiting, where only a NOTIFY can reach it.
    enqueue(&pool).await;
    until(
        &pool,
        "SELECT count(*) FROM tokportal.mutation_jobs WHERE status = 'succeeded'",
        Duration::from_secs(30),
        |n| n == 1,
    )
    .await;
    enqueue(&pool).await;
    until(
        &pool,
        "SELECT count(*) FROM tokportal.mutation_jobs WHERE status = 'succeeded'",
        Duration::from_secs(30),
        |n| n == 2,
    )
    .await;
    daemon.sigterm();
    assert_eq!(daemon.exit_within(Duration::from_secs(10)).await.code(), Some(0), "{}", daemon.log());
    assert_eq!(sim.ledger().len(), 2, "each job executed once");
    sim.shutdown().await;
}
