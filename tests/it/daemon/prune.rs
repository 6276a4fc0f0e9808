//! The daemon prunes finished jobs past `jobs.retention_days` (at start,
//! hourly, after each scheduled sync); recent and unfinished ones stay.

use std::time::Duration;

use sqlx::PgPool;

use super::once::{enqueue, sim};
use super::support::{Worker, config, env, scalar, until};
use crate::helpers::database_url;

#[sqlx::test]
async fn the_daemon_prunes_finished_jobs_past_the_retention(pool: PgPool) {
    let sim = sim(5).await;
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &["bundles"], "0 0 0 1 1 *");
    for _ in 0..3 {
        enqueue(&pool).await;
    }
    // Two finished long ago (one past the 30-day default, one within it).
    sqlx::query(
        "UPDATE tokportal.mutation_jobs SET status = 'failed', finished_at = now() - interval '40 days'
         WHERE id = (SELECT min(id) FROM tokportal.mutation_jobs)",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE tokportal.mutation_jobs SET status = 'failed', finished_at = now() - interval '10 days'
         WHERE id = (SELECT min(id) + 1 FROM tokportal.mutation_jobs)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let mut daemon = Worker::spawn(dir.path(), &[], &env(&url, sim.base_url().as_str(), "1000"));
    daemon.line("daemon running", Duration::from_secs(30)).await;
    until(&pool, "SELECT count(*) FROM tokportal.mutation_jobs", Duration::from_secs(15), |n| n == 2).await;
    // The queued one is replayed, the recent failure kept.
    until(
        &pool,
        "SELECT count(*) FROM tokportal.mutation_jobs WHERE status = 'succeeded'",
        Duration::from_secs(15),
        |n| n == 1,
    )
    .await;
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM tokportal.mutation_jobs WHERE status = 'failed'").await,
        1
    );
    daemon.sigterm();
    assert_eq!(daemon.exit_within(Duration::from_secs(10)).await.code(), Some(0), "{}", daemon.log());
    sim.shutdown().await;
}
