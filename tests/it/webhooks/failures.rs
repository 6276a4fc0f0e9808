//! Refreshes that fail: retried with a backoff, given up after
//! `webhooks.max_attempts` (marked failed, the error kept, counted).

use std::sync::atomic::Ordering;

use serde_json::json;
use sqlx::PgPool;
use tokportal_sync::webhooks::{Limits, Outcome, refresh_once_with};

use super::support::{due_now, local_metrics, scripted_refresher, store};

#[sqlx::test]
async fn a_refresh_that_keeps_failing_is_given_up_after_max_attempts_with_its_error_kept(pool: PgPool) {
    let not_owned = json!({ "error": { "code": "BUNDLE_NOT_OWNED", "message": "Not yours." } });
    let (r, hits) = scripted_refresher(&pool, vec![(403, not_owned)]).await;
    store(&pool, "evt_403", "bundle.published", json!({ "id": "b1" })).await;
    let limits = Limits { max_attempts: 3, ..Limits::default() };
    let (recorder, metrics) = local_metrics();
    let _recording = metrics::set_default_local_recorder(&recorder);
    for attempt in 1..=3 {
        let outcome = refresh_once_with(&r, &limits).await.unwrap();
        assert_eq!(
            outcome,
            Outcome::Failed { events: 1, given_up: u64::from(attempt == 3) },
            "attempt {attempt}"
        );
        due_now(&pool).await;
    }
    assert_eq!(refresh_once_with(&r, &limits).await.unwrap(), Outcome::Idle, "never claimed again");
    assert_eq!(hits.load(Ordering::SeqCst), 3, "three requests, then none");
    let (attempts, failed, error): (i32, bool, Option<String>) = sqlx::query_as(
        "SELECT attempts, failed_at IS NOT NULL, last_error FROM tokportal.webhook_events WHERE id = 'evt_403'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((attempts, failed), (3, true));
    assert!(error.as_deref().unwrap_or_default().contains("BUNDLE_NOT_OWNED"), "{error:?}");
    let rendered = metrics.render();
    assert!(rendered.contains(r#"tokportal_webhook_events_refreshed_total{kind="failed"} 1"#), "{rendered}");
}

#[sqlx::test]
async fn a_batch_that_failed_then_succeeded_counts_one_refresh_of_its_events(pool: PgPool) {
    let unavailable = json!({ "error": { "code": "BUNDLE_NOT_OWNED", "message": "Not yet." } });
    let bundle = json!({ "data": { "id": "b1", "status": "published", "title": "t" } });
    let (r, _) = scripted_refresher(&pool, vec![(403, unavailable), (200, bundle)]).await;
    store(&pool, "evt_1", "bundle.published", json!({ "id": "b1" })).await;
    store(&pool, "evt_2", "bundle.cancelled", json!({ "id": "b1" })).await;
    let (recorder, metrics) = local_metrics();
    let _recording = metrics::set_default_local_recorder(&recorder);
    let limits = Limits::default();
    assert_eq!(refresh_once_with(&r, &limits).await.unwrap(), Outcome::Failed { events: 2, given_up: 0 });
    due_now(&pool).await;
    assert!(matches!(refresh_once_with(&r, &limits).await.unwrap(), Outcome::Refreshed { events: 2, .. }));
    let rendered = metrics.render();
    assert!(rendered.contains("tokportal_webhook_refreshes_total 1\n"), "{rendered}");
    assert!(rendered.contains(r#"tokportal_webhook_events_refreshed_total{kind="known"} 2"#), "{rendered}");
}

async fn deleted(pool: &PgPool, id: &str) -> Option<bool> {
    sqlx::query_scalar("SELECT deleted_at IS NOT NULL FROM tokportal.bundles WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn only_bundle_not_found_deletes_a_bundle_and_a_route_s_404_is_a_failure(pool: PgPool) {
    let bundle = json!({ "data": { "id": "b1", "status": "published" } });
    let route = json!({ "error": { "code": "NOT_FOUND", "message": "No such endpoint." } });
    let gone = json!({ "error": { "code": "BUNDLE_NOT_FOUND", "message": "Bundle not found." } });
    let answers = vec![(200, bundle), (404, route.clone()), (404, route), (404, gone)];
    let (r, hits) = scripted_refresher(&pool, answers).await;
    let limits = Limits::default();
    store(&pool, "evt_seen", "bundle.published", json!({ "id": "b1" })).await;
    assert!(matches!(refresh_once_with(&r, &limits).await.unwrap(), Outcome::Refreshed { .. }));
    assert_eq!(deleted(&pool, "b1").await, Some(false));

    // A wrong base path answers 404 without the documented code, for the bundle and for its slots.
    store(&pool, "evt_route", "bundle.cancelled", json!({ "id": "b1" })).await;
    assert!(matches!(refresh_once_with(&r, &limits).await.unwrap(), Outcome::Failed { .. }));
    assert_eq!(deleted(&pool, "b1").await, Some(false), "a route's 404 deletes nothing");
    store(&pool, "evt_slots", "video.updated", json!({ "bundle_id": "b1", "position": 1 })).await;
    due_now(&pool).await;
    sqlx::query("UPDATE tokportal.webhook_events SET refreshed_at = now() WHERE id = 'evt_route'")
        .execute(&pool)
        .await
        .unwrap();
    assert!(matches!(refresh_once_with(&r, &limits).await.unwrap(), Outcome::Failed { .. }));

    store(&pool, "evt_gone", "bundle.cancelled", json!({ "id": "b1" })).await;
    sqlx::query("UPDATE tokportal.webhook_events SET refreshed_at = now() WHERE id = 'evt_slots'")
        .execute(&pool)
        .await
        .unwrap();
    assert!(matches!(refresh_once_with(&r, &limits).await.unwrap(), Outcome::Refreshed { .. }));
    assert_eq!(deleted(&pool, "b1").await, Some(true), "BUNDLE_NOT_FOUND is proof");
    assert_eq!(hits.load(Ordering::SeqCst), 4);
}

#[sqlx::test]
async fn a_bundle_id_that_is_not_one_path_segment_is_given_up_without_a_request(pool: PgPool) {
    let (r, hits) = scripted_refresher(&pool, vec![(200, json!({ "data": { "balance": 1 } }))]).await;
    store(&pool, "evt_escape", "bundle.published", json!({ "id": "../credits/balance" })).await;
    store(&pool, "evt_encoded", "video.updated", json!({ "bundle_id": "%2e%2e" })).await;
    let limits = Limits::default();
    for _ in 0..2 {
        let outcome = refresh_once_with(&r, &limits).await.unwrap();
        assert_eq!(outcome, Outcome::Failed { events: 1, given_up: 1 });
    }
    // A type nothing is fetched for is not refused for the id it carries.
    store(&pool, "evt_odd", "comment.created", json!({ "bundle_id": "../x" })).await;
    assert!(matches!(refresh_once_with(&r, &limits).await.unwrap(), Outcome::Refreshed { requests: 0, .. }));
    assert_eq!(refresh_once_with(&r, &limits).await.unwrap(), Outcome::Idle);
    assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing requested");
    let errors: Vec<(bool, Option<String>)> = sqlx::query_as(
        "SELECT failed_at IS NOT NULL, last_error FROM tokportal.webhook_events WHERE id <> 'evt_odd'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for (failed, error) in errors {
        assert!(failed);
        assert!(error.unwrap_or_default().contains("not a single safe path segment"));
    }
}

/// A refresh still waiting for the budget when the worker stops is not
/// sent: the batch is released unclaimed, no attempt counted, for the next run.
#[sqlx::test]
async fn a_refresh_stopped_before_its_send_releases_the_events_without_an_attempt(pool: PgPool) {
    let bundle = json!({ "data": { "id": "b1", "status": "published", "title": "t" } });
    let (mut r, hits) = scripted_refresher(&pool, vec![(200, bundle)]).await;
    store(&pool, "evt_stop", "bundle.published", json!({ "id": "b1" })).await;
    let stop = tokio_util::sync::CancellationToken::new();
    stop.cancel();
    let live = r.client.clone();
    r.client = live.with_cancel(stop);
    let limits = Limits::default();
    assert_eq!(refresh_once_with(&r, &limits).await.unwrap(), Outcome::Stopped { events: 1 });
    assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing sent");
    let (attempts, claimed, failed): (i32, bool, bool) = sqlx::query_as(
        "SELECT attempts, claimed_until IS NOT NULL, failed_at IS NOT NULL FROM tokportal.webhook_events WHERE id = 'evt_stop'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((attempts, claimed, failed), (0, false, false), "released as it was");
    r.client = live;
    assert!(matches!(refresh_once_with(&r, &limits).await.unwrap(), Outcome::Refreshed { events: 1, .. }));
}
