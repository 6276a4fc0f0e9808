//! Handled events are pruned after `webhooks.retention_days` by the
//! refresher's own loop; pending ones stay whatever their age.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokportal_sync::webhooks::{self, Limits};

use super::support::{scripted_refresher, store};

async fn ids(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT id FROM tokportal.webhook_events ORDER BY id").fetch_all(pool).await.unwrap()
}

#[sqlx::test]
async fn the_refresher_prunes_events_handled_before_the_retention_and_keeps_the_rest(pool: PgPool) {
    for id in ["old_refreshed", "old_failed", "old_pending", "new_refreshed"] {
        store(&pool, id, "bundle.published", json!({ "id": "b1" })).await;
    }
    sqlx::query(
        "UPDATE tokportal.webhook_events SET received_at = now() - interval '30 days', \
            refreshed_at = CASE id WHEN 'old_refreshed' THEN now() - interval '15 days' \
                                   WHEN 'new_refreshed' THEN now() - interval '13 days' END, \
            failed_at = CASE WHEN id = 'old_failed' THEN now() - interval '15 days' END, \
            run_after = now() + interval '1 hour'",
    )
    .execute(&pool)
    .await
    .unwrap();
    let (r, hits) = scripted_refresher(&pool, vec![(500, json!({}))]).await;
    let limits = Limits { retention: Duration::from_secs(14 * 86_400), ..Limits::default() };
    let stop = CancellationToken::new();
    let task = tokio::spawn(webhooks::run_with(r, limits, Arc::new(Notify::new()), stop.clone()));
    let deadline = Instant::now() + Duration::from_secs(30);
    while ids(&pool).await.len() > 2 {
        assert!(Instant::now() < deadline, "not pruned within 30 s: {:?}", ids(&pool).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    task.await.unwrap();
    assert_eq!(ids(&pool).await, ["new_refreshed", "old_pending"]);
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "the pending one was not due");
    let comment: Option<String> =
        sqlx::query_scalar("SELECT obj_description('tokportal.webhook_events'::regclass, 'pg_class')")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(
        comment.unwrap_or_default().contains("webhooks.retention_days"),
        "the table says how long rows stay"
    );
}
