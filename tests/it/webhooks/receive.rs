//! The receiver answers 401, 413, 400 or 200 and stores each event once.

use serde_json::json;
use sqlx::PgPool;

use tokportal_sync::webhooks::{Outcome, refresh_once};

use super::support::{SECRET, deliver, envelope, scripted_refresher, serve, stored};

#[sqlx::test]
async fn a_signed_event_is_stored_once_and_a_redelivery_changes_nothing(pool: PgPool) {
    let (url, _) = serve(&pool, &[SECRET]).await;
    let body = envelope("evt_1", "bundle.published", json!({ "id": "b1" }));
    assert_eq!(deliver(&url, "evt_1", &body, Some(SECRET), 0).await, 200);
    assert_eq!(deliver(&url, "evt_1", &body, Some(SECRET), 0).await, 200);
    assert_eq!(stored(&pool).await, 1);
    let (kind, bundle, envelope): (String, Option<String>, serde_json::Value) =
        sqlx::query_as("SELECT type, bundle_id, envelope FROM tokportal.webhook_events WHERE id = 'evt_1'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((kind.as_str(), bundle.as_deref()), ("bundle.published", Some("b1")));
    assert_eq!(envelope["data"]["id"], "b1");
}

#[sqlx::test]
async fn bad_stale_future_and_unsigned_deliveries_are_refused_and_store_nothing(pool: PgPool) {
    let (url, _) = serve(&pool, &[SECRET]).await;
    let body = envelope("e1", "bundle.published", json!({ "id": "b1" }));
    assert_eq!(deliver(&url, "e1", &body, Some("whsec_someone_else"), 0).await, 401);
    assert_eq!(deliver(&url, "e1", &body, Some(SECRET), -301).await, 401);
    assert_eq!(deliver(&url, "e1", &body, Some(SECRET), 301).await, 401);
    assert_eq!(deliver(&url, "e1", &body, None, 0).await, 401);
    assert_eq!(stored(&pool).await, 0);
}

#[sqlx::test]
async fn with_two_secrets_configured_either_signs(pool: PgPool) {
    let (url, _) = serve(&pool, &["whsec_old", "whsec_new"]).await;
    let event = |id| envelope(id, "bundle.created", json!({ "bundle_id": "b2" }));
    assert_eq!(deliver(&url, "e_old", &event("e_old"), Some("whsec_old"), 0).await, 200);
    assert_eq!(deliver(&url, "e_new", &event("e_new"), Some("whsec_new"), 0).await, 200);
    assert_eq!(deliver(&url, "e_bad", &event("e_bad"), Some("whsec_retired"), 0).await, 401);
    assert_eq!(stored(&pool).await, 2);
}

#[sqlx::test]
async fn a_body_over_one_mib_is_413_and_a_body_not_the_envelope_is_400(pool: PgPool) {
    let (url, _) = serve(&pool, &[SECRET]).await;
    let big = vec![b' '; 1024 * 1024 + 1];
    assert_eq!(deliver(&url, "big", &big, Some(SECRET), 0).await, 413);
    assert_eq!(deliver(&url, "arr", b"[1,2]", Some(SECRET), 0).await, 400);
    assert_eq!(deliver(&url, "nodata", br#"{"type":"bundle.created"}"#, Some(SECRET), 0).await, 400);
    assert_eq!(stored(&pool).await, 0);
}

#[sqlx::test]
async fn with_no_secret_configured_every_delivery_is_refused(pool: PgPool) {
    let (url, _) = serve(&pool, &[]).await;
    let body = envelope("e", "bundle.created", json!({ "id": "b" }));
    assert_eq!(deliver(&url, "e", &body, Some(SECRET), 0).await, 401);
    assert_eq!(stored(&pool).await, 0);
}

#[sqlx::test]
async fn an_unknown_type_with_no_object_data_is_stored_and_refreshed_at_no_request(pool: PgPool) {
    let (url, _) = serve(&pool, &[SECRET]).await;
    for (id, body) in [
        ("evt_ping_null", br#"{"type":"ping","data":null}"#.to_vec()),
        ("evt_ping_none", br#"{"type":"ping"}"#.to_vec()),
        ("evt_list", br#"{"type":"comment.batch","data":[1,2]}"#.to_vec()),
    ] {
        assert_eq!(deliver(&url, id, &body, Some(SECRET), 0).await, 200, "{id}");
    }
    // A type the refresh reads `data` for still needs an object.
    let bad = br#"{"type":"bundle.created","data":null}"#;
    assert_eq!(deliver(&url, "evt_bad", bad, Some(SECRET), 0).await, 400);
    assert_eq!(stored(&pool).await, 3);
    let (r, hits) = scripted_refresher(&pool, vec![(500, json!({}))]).await;
    for _ in 0..3 {
        assert!(matches!(refresh_once(&r).await.unwrap(), Outcome::Refreshed { requests: 0, .. }));
    }
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    let done: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tokportal.webhook_events WHERE refreshed = 'nothing: unknown type'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(done, 3);
}

#[sqlx::test]
async fn a_header_id_that_disagrees_with_the_signed_body_is_400_and_stores_nothing(pool: PgPool) {
    let (url, _) = serve(&pool, &[SECRET]).await;
    let body = envelope("evt_signed", "bundle.published", json!({ "id": "b1" }));
    assert_eq!(deliver(&url, "evt_signed", &body, Some(SECRET), 0).await, 200);
    // The same signed bytes, replayed under other ids in the unsigned header.
    for forged in ["evt_forged_1", "evt_forged_2"] {
        assert_eq!(deliver(&url, forged, &body, Some(SECRET), 0).await, 400, "{forged}");
    }
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM tokportal.webhook_events").fetch_all(&pool).await.unwrap();
    assert_eq!(ids, ["evt_signed"]);
}

#[sqlx::test]
async fn a_body_without_an_id_is_stored_once_whatever_header_ids_it_comes_with(pool: PgPool) {
    let (url, _) = serve(&pool, &[SECRET]).await;
    let body = br#"{"type":"bundle.published","data":{"id":"b1"}}"#;
    for header in ["evt_a", "evt_b", "evt_c"] {
        assert_eq!(deliver(&url, header, body, Some(SECRET), 0).await, 200, "{header}");
    }
    assert_eq!(stored(&pool).await, 1);
}
