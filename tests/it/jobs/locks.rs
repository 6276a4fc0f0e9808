//! Claims skip what another connection holds: a second connection keeps a row
//! locked with `SELECT … FOR UPDATE`, and the claim returns the next due row
//! at once instead of queueing behind the lock (`FOR UPDATE SKIP LOCKED`).

use std::time::Duration;

use serde_json::json;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use tokportal_sync::db::Owner;
use tokportal_sync::jobs::queue;
use tokportal_sync::webhooks::events::{self, Pending};

use super::support::*;

/// A claim that waits behind a lock would still be waiting after this.
const PROMPTLY: Duration = Duration::from_secs(5);

/// Holds `FOR UPDATE` on one row of `table` from another connection until the
/// transaction is dropped.
async fn hold(pool: &PgPool, table: &str, key: &str, id: &str) -> Transaction<'static, Postgres> {
    let mut tx = pool.begin().await.unwrap();
    let sql = format!("SELECT 1 FROM tokportal.{table} WHERE {key}::text = $1 FOR UPDATE");
    let locked: Option<i32> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *tx as &mut PgConnection)
        .await
        .unwrap();
    assert_eq!(locked, Some(1), "the row {id} of {table} is locked");
    tx
}

async fn within<T>(what: &str, step: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(PROMPTLY, step)
        .await
        .unwrap_or_else(|_| panic!("{what} waited behind the locked row instead of skipping it"))
}

#[sqlx::test]
async fn a_job_claim_skips_a_job_another_connection_holds_and_takes_the_next_due_one(pool: PgPool) {
    let first = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    let second = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    let held = hold(&pool, "mutation_jobs", "id", &first.id.to_string()).await;
    let s = settings();
    let claimed = within("the job claim", queue::claim(&Owner::new(&pool), s.lease, s.fresh_for(), None))
        .await
        .unwrap();
    assert_eq!(claimed.map(|c| c.id), Some(second.id), "the next due job, not the locked one");
    held.rollback().await.unwrap();
    assert_eq!(job(&pool, first.id).await.status, "queued", "the held job is left for a later claim");
}

#[sqlx::test]
async fn expiring_stale_jobs_skips_a_job_another_connection_holds(pool: PgPool) {
    let first = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    let second = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    sqlx::query("UPDATE tokportal.mutation_jobs SET first_sent_at = now() - interval '2 days'")
        .execute(&pool)
        .await
        .unwrap();
    let held = hold(&pool, "mutation_jobs", "id", &first.id.to_string()).await;
    let expired =
        within("expiring stale jobs", queue::expire_stale(&pool, settings().fresh_for())).await.unwrap();
    assert_eq!(expired, vec![second.id]);
    held.rollback().await.unwrap();
}

async fn store(pool: &PgPool, id: &str, bundle: &str) {
    let envelope = json!({ "id": id, "type": "bundle.published", "data": { "id": bundle } });
    assert!(events::insert(pool, id, "bundle.published", Some(bundle), &envelope).await.unwrap());
}

#[sqlx::test]
async fn a_webhook_claim_skips_an_event_another_connection_holds_and_takes_the_next_bundle(pool: PgPool) {
    store(&pool, "evt_1", "b-1").await;
    store(&pool, "evt_2", "b-2").await;
    let held = hold(&pool, "webhook_events", "id", "evt_1").await;
    let pending = within(
        "the webhook claim",
        events::claim(&pool, &Owner::new(&pool), Duration::ZERO, Duration::from_secs(60)),
    )
    .await
    .unwrap();
    let Pending::Ready(batch) = pending else { panic!("a batch is ready: {pending:?}") };
    assert_eq!((batch.bundle_id.as_deref(), batch.ids), (Some("b-2"), vec!["evt_2".to_string()]));
    held.rollback().await.unwrap();
}

#[sqlx::test]
async fn a_webhook_batch_leaves_out_an_event_of_its_bundle_another_connection_holds(pool: PgPool) {
    store(&pool, "evt_1", "b-1").await;
    store(&pool, "evt_2", "b-1").await;
    let held = hold(&pool, "webhook_events", "id", "evt_2").await;
    let pending = within(
        "the webhook claim",
        events::claim(&pool, &Owner::new(&pool), Duration::ZERO, Duration::from_secs(60)),
    )
    .await
    .unwrap();
    let Pending::Ready(batch) = pending else { panic!("a batch is ready: {pending:?}") };
    assert_eq!(batch.ids, vec!["evt_1".to_string()], "the held event is left for a later claim");
    held.rollback().await.unwrap();
}
