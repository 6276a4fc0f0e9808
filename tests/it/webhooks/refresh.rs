//! Stored events become the least requests that make the mirror right.

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tokportal_sync::webhooks::{self, Outcome, refresh_once};

use super::support::{SECRET, deliver, envelope, mirrored, refresher, serve, sim, store};

fn set(field: &str, value: Value) -> Map<String, Value> {
    Map::from_iter([(field.to_string(), value)])
}

/// A bundle of `sim` that has video slots.
fn with_slots(sim: &tokportal_sync::sim::SimServer) -> String {
    sim.bundle_ids()
        .into_iter()
        .find(|id| sim.bundle_videos(id).and_then(|v| v.as_array().map(|a| !a.is_empty())) == Some(true))
        .expect("a bundle with slots")
}

async fn title(pool: &PgPool, id: &str) -> Option<String> {
    sqlx::query_scalar("SELECT title FROM tokportal.bundles WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn a_change_reaches_the_mirror_after_its_event_at_one_request(pool: PgPool) {
    let sim = sim(5).await;
    mirrored(&pool, &sim).await;
    let id = sim.bundle_ids()[0].clone();
    let (url, wake) = serve(&pool, &[SECRET]).await;
    let r = refresher(&pool, &sim, Duration::from_millis(100));
    let client = r.client.clone();
    let stop = CancellationToken::new();
    let task = tokio::spawn(webhooks::run(r, wake, stop.clone()));

    assert!(sim.change_bundle(&id, set("title", json!("fresh from a webhook"))));
    let sent = Instant::now();
    // A bound on the wait, not on the speed: how fast is a benchmark's job.
    assert_eq!(
        deliver(&url, "evt_a", &envelope("evt_a", "bundle.published", json!({ "id": id })), Some(SECRET), 0)
            .await,
        200
    );
    let deadline = sent + Duration::from_secs(30);
    while title(&pool, &id).await.as_deref() != Some("fresh from a webhook") {
        assert!(Instant::now() < deadline, "the row was not updated within 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(client.counters().requests, 1, "one GET /bundles/{{id}}");
    stop.cancel();
    let handled = task.await.unwrap();
    assert_eq!((handled.batches, handled.events, handled.requests, handled.failed), (1, 1, 1, 0));
}

#[sqlx::test]
async fn a_burst_for_one_bundle_in_any_order_costs_one_refresh(pool: PgPool) {
    let sim = sim(5).await;
    mirrored(&pool, &sim).await;
    let id = with_slots(&sim);
    assert!(sim.change_bundle(&id, set("title", json!("after the burst"))));
    sim.change_video(&id, 1, set("status", json!("published")));
    // Out of order and duplicated: the refresh reads the current state anyway.
    for (n, kind) in
        ["video.published", "bundle.published", "bundle.created", "video.published"].iter().enumerate()
    {
        store(&pool, &format!("e{n}"), kind, json!({ "bundle_id": id })).await;
    }
    let r = refresher(&pool, &sim, Duration::ZERO);
    match refresh_once(&r).await.unwrap() {
        Outcome::Refreshed { events, requests, what } => {
            // The row, the slots and (for bundle.created) the account: each once.
            assert_eq!((events, requests), (4, 3), "{what}");
        }
        other => panic!("expected a refresh, got {other:?}"),
    }
    assert_eq!(refresh_once(&r).await.unwrap(), Outcome::Idle);
    assert_eq!(title(&pool, &id).await.as_deref(), Some("after the burst"));
    let expected = sim.bundle_videos(&id).unwrap();
    let slots: Vec<Value> = sqlx::query_scalar(
        "SELECT data FROM tokportal.bundle_videos WHERE bundle_id = $1 AND deleted_at IS NULL ORDER BY position",
    )
    .bind(&id)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(json!(slots), expected, "the slots match the simulator's");
}

#[sqlx::test]
async fn a_young_batch_waits_for_its_window_before_costing_anything(pool: PgPool) {
    let sim = sim(1).await;
    store(&pool, "e1", "bundle.published", json!({ "id": "b1" })).await;
    let r = refresher(&pool, &sim, Duration::from_secs(30));
    assert!(matches!(refresh_once(&r).await.unwrap(), Outcome::Wait(d) if d > Duration::from_secs(20)));
    assert_eq!(r.client.counters().requests, 0);
}

#[sqlx::test]
async fn a_bundle_the_api_no_longer_has_is_marked_deleted(pool: PgPool) {
    let sim = sim(3).await;
    mirrored(&pool, &sim).await;
    let id = sim.bundle_ids()[0].clone();
    sim.delete_bundles(std::slice::from_ref(&id));
    store(&pool, "gone", "bundle.cancelled", json!({ "id": id })).await;
    let r = refresher(&pool, &sim, Duration::ZERO);
    assert!(matches!(refresh_once(&r).await.unwrap(), Outcome::Refreshed { requests: 1, .. }));
    let deleted: bool =
        sqlx::query_scalar("SELECT deleted_at IS NOT NULL FROM tokportal.bundles WHERE id = $1")
            .bind(&id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(deleted);
}

#[sqlx::test]
async fn an_unknown_type_is_stored_and_recorded_at_no_request(pool: PgPool) {
    let sim = sim(1).await;
    store(&pool, "odd", "comment.created", json!({ "id": "c1" })).await;
    let r = refresher(&pool, &sim, Duration::ZERO);
    assert!(matches!(refresh_once(&r).await.unwrap(), Outcome::Refreshed { requests: 0, .. }));
    let what: Option<String> =
        sqlx::query_scalar("SELECT refreshed FROM tokportal.webhook_events WHERE id = 'odd'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(what.as_deref(), Some("nothing: unknown type"));
}

#[sqlx::test]
async fn an_event_stored_before_a_restart_is_refreshed_by_the_next_process(pool: PgPool) {
    // The receiver only stores; whatever process runs next refreshes from the table.
    let sim = sim(3).await;
    mirrored(&pool, &sim).await;
    let id = sim.bundle_ids()[2].clone();
    assert!(sim.change_bundle(&id, set("title", json!("after the restart"))));
    store(&pool, "before_crash", "bundle.published", json!({ "id": id })).await;
    let r = refresher(&pool, &sim, Duration::ZERO);
    assert!(matches!(refresh_once(&r).await.unwrap(), Outcome::Refreshed { .. }));
    assert_eq!(title(&pool, &id).await.as_deref(), Some("after the restart"));
}

#[sqlx::test]
async fn a_refreshed_row_that_did_not_change_is_not_rewritten(pool: PgPool) {
    let sim = sim(4).await;
    mirrored(&pool, &sim).await;
    let id = with_slots(&sim);
    let versions = |table: &'static str| {
        let pool = pool.clone();
        let id = id.clone();
        async move {
            let sql = format!(
                "SELECT string_agg(xmin::text || ctid::text || changed_at::text, ',' ORDER BY ctid) \
                 FROM tokportal.{table} WHERE {} = $1",
                if table == "bundles" { "id" } else { "bundle_id" }
            );
            sqlx::query_scalar::<_, Option<String>>(sqlx::AssertSqlSafe(sql))
                .bind(&id)
                .fetch_one(&pool)
                .await
                .unwrap()
                .expect("mirrored rows")
        }
    };
    let before =
        (versions("bundles").await, versions("bundle_videos").await, versions("bundle_accounts").await);
    // Events for all three, nothing changed at the API.
    for (n, kind) in ["bundle.published", "video.updated", "account.updated"].iter().enumerate() {
        store(&pool, &format!("same{n}"), kind, json!({ "bundle_id": id })).await;
    }
    let r = refresher(&pool, &sim, Duration::ZERO);
    assert!(matches!(refresh_once(&r).await.unwrap(), Outcome::Refreshed { events: 3, requests: 3, .. }));
    let after =
        (versions("bundles").await, versions("bundle_videos").await, versions("bundle_accounts").await);
    assert_eq!(before, after, "no row version, place or changed_at moved");
}
