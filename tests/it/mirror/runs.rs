//! One walk per stream across processes, and the run history.

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tokportal_sync::mirror::{self, Outcome, lock};

use super::support::{mirror, settings, sim, sync};

#[sqlx::test]
async fn a_stream_whose_lock_another_session_holds_is_skipped(pool: PgPool) {
    let sim = sim(20).await;
    let m = mirror(&pool, &sim, settings());
    let held = lock::try_lock(&pool, "bundles").await.unwrap().expect("the lock is free");
    let outcome = mirror::sync_stream_once(&m, "bundles", &CancellationToken::new()).await.unwrap();
    assert!(matches!(outcome, Outcome::Skipped { stream: "bundles" }), "{outcome:?}");
    // Other streams are not blocked by it.
    assert!(matches!(
        mirror::sync_stream_once(&m, "credit_transactions", &CancellationToken::new()).await.unwrap(),
        Outcome::Ran(_)
    ));
    held.release().await;
    assert!(matches!(
        mirror::sync_stream_once(&m, "bundles", &CancellationToken::new()).await.unwrap(),
        Outcome::Ran(_)
    ));
    sim.shutdown().await;
}

#[sqlx::test]
async fn two_concurrent_syncs_of_one_stream_never_both_walk(pool: PgPool) {
    let sim = sim(300).await;
    let (a, b) = (mirror(&pool, &sim, settings()), mirror(&pool, &sim, settings()));
    let cancel = CancellationToken::new();
    let (x, y) = tokio::join!(
        mirror::sync_stream_once(&a, "bundles", &cancel),
        mirror::sync_stream_once(&b, "bundles", &cancel)
    );
    let ran = [x.unwrap(), y.unwrap()].into_iter().filter(|o| matches!(o, Outcome::Ran(_))).count();
    // Either one skipped, or the second started after the first had finished.
    let overlapping: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tokportal.sync_runs a JOIN tokportal.sync_runs b ON a.id < b.id \
         WHERE a.stream = 'bundles' AND b.stream = 'bundles' AND b.started_at < a.finished_at",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(ran >= 1);
    assert_eq!(overlapping, 0, "two walks of one stream overlapped");
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_ledger_run_stops_at_rows_it_holds_once_a_full_walk_is_recent(pool: PgPool) {
    let sim = sim(10).await;
    let mut m = mirror(&pool, &sim, settings());
    m.settings.per_page = 5;
    let full = sync(&m, "credit_transactions").await;
    assert_eq!((full.kind, full.complete), ("full", true));
    assert!(full.tally.pages >= 8, "41 transactions at 5 a page");
    let routine = sync(&m, "credit_transactions").await;
    assert_eq!((routine.kind, routine.complete, routine.tally.pages), ("routine", false, 1));
    // A day later the next run walks everything again.
    sqlx::query("UPDATE tokportal.sync_runs SET started_at = started_at - interval '25 hours'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(sync(&m, "credit_transactions").await.kind, "full");
    sim.shutdown().await;
}
