//! Refreshes in flight: batches of different bundles are refreshed at once
//! as the budget gives sends, so a slow server does not set their pace.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Path;
use serde_json::json;
use sqlx::PgPool;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokportal_sync::webhooks::{self, Refresher};

use super::support::store;

/// Requests answered now, and the most at once.
#[derive(Default)]
struct Seen {
    now: usize,
    most: usize,
}

#[sqlx::test]
async fn batches_of_different_bundles_are_refreshed_with_their_requests_in_flight_together(pool: PgPool) {
    // The API holds each answer until two requests are in flight at once (or
    // 5 s passed): refreshed one batch after the other, every answer waits
    // the 5 s and no two are ever in flight together.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (most_tx, most_rx) = watch::channel(0usize);
    let most_tx = Arc::new(most_tx);
    let counted = seen.clone();
    let app = axum::Router::new().route(
        "/bundles/{id}",
        axum::routing::get(move |Path(id): Path<String>| {
            let (seen, most_tx, mut most_rx) = (counted.clone(), most_tx.clone(), most_rx.clone());
            async move {
                {
                    let mut s = seen.lock().unwrap();
                    s.now += 1;
                    s.most = s.most.max(s.now);
                    most_tx.send_replace(s.most);
                }
                let _ = tokio::time::timeout(Duration::from_secs(3), most_rx.wait_for(|m| *m >= 2)).await;
                seen.lock().unwrap().now -= 1;
                axum::Json(json!({ "data": { "id": id, "status": "published", "platform": "tiktok" } }))
            }
        }),
    );
    let (mut options, server) = crate::api_support::scripted(app).await;
    // Never a timeout or a retry: a second request of one batch would count as two in flight.
    (options.timeout, options.max_retries) = (Duration::from_secs(60), 0);
    let client = crate::api_support::client(options, crate::api_support::budget_options(10_000.0, 10_000));
    let ids: Vec<String> = (1..=3).map(|n| format!("00000000-0000-4000-8000-00000000000{n}")).collect();
    for (n, id) in ids.iter().enumerate() {
        store(&pool, &format!("evt_{n}"), "bundle.published", json!({ "bundle_id": id })).await;
    }
    let r = Refresher::new(pool.clone(), client, Duration::ZERO);
    let stop = CancellationToken::new();
    let task = tokio::spawn(webhooks::run(r, Arc::new(Notify::new()), stop.clone()));

    // A bound on the wait, not on the speed.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let refreshed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM tokportal.webhook_events WHERE refreshed_at IS NOT NULL",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if refreshed == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "{refreshed} of 3 events refreshed after 120 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    let handled = task.await.unwrap();
    assert_eq!((handled.batches, handled.events, handled.requests, handled.failed), (3, 3, 3, 0));
    let most = seen.lock().unwrap().most;
    assert!(most >= 2, "the batches' requests were in flight together (at most {most} at once)");
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT id FROM tokportal.bundles WHERE deleted_at IS NULL ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows, ids, "each batch's answer was stored");
    server.abort();
}
