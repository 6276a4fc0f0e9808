//! `POST/GET /webhooks`, `DELETE /webhooks/{id}` and the deliveries list:
//! stored per key, listed like every list, never showing the secret.

use serde_json::{Value, json};
use tokportal_sync::sim::{DEMO_KEY, SimConfig, SimKey};

use super::super::support::{Api, admin_url, client, code, json, start, unlimited};
use super::{Receiver, register};

const OTHER: &str = "sk_other";

#[tokio::test]
async fn endpoints_are_listed_per_key_paginated_and_without_their_secret() {
    let keys = vec![SimKey::full(DEMO_KEY, 100), SimKey::full(OTHER, 100)];
    let sim = start(SimConfig { keys, ..unlimited() }).await;
    let (mine, theirs) = (Api::new(&sim), Api::with_key(&sim, OTHER));
    let (first, secret) = register(&mine, "https://one.example.test/hooks", json!([])).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let (second, _) = register(&mine, "https://two.example.test/hooks", json!(["bundle.published"])).await;
    register(&theirs, "https://three.example.test/hooks", Value::Null).await;

    let page = mine.get("/webhooks?per_page=1").send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("whsec_") && !page.contains("secret"), "{page}");
    let page: Value = serde_json::from_str(&page).unwrap();
    assert_eq!(page["pagination"], json!({ "page": 1, "per_page": 1, "total": 2, "total_pages": 2 }));
    assert_eq!(page["data"][0]["id"], second, "newest first");
    assert_eq!(page["data"][0]["events"], json!(["bundle.published"]));
    let last = mine.get_json("/webhooks?page=2&per_page=1").await;
    assert_eq!(
        (last["data"][0]["id"].as_str(), last["data"][0]["url"].as_str()),
        (Some(first.as_str()), Some("https://one.example.test/hooks"))
    );
    let (status, error, _) = code(mine.get("/webhooks?per_page=101").send().await.unwrap()).await;
    assert_eq!((status, error.as_str()), (400, "VALIDATION_ERROR"), "refused like every list");

    let theirs_list = theirs.get_json("/webhooks").await;
    assert_eq!(theirs_list["pagination"]["total"], 1);
    assert_eq!(theirs_list["data"][0]["events"], json!([]), "missing events: every type");
    let (status, error, _) =
        code(theirs.get(&format!("/webhooks/{first}/deliveries")).send().await.unwrap()).await;
    assert_eq!((status, error.as_str()), (404, "WEBHOOK_NOT_FOUND"), "another key's endpoint is not visible");
    let refused = theirs.http.delete(theirs.url(&format!("/webhooks/{first}"))).header("X-API-Key", OTHER);
    assert_eq!(refused.send().await.unwrap().status(), 404);

    let endpoints = sim.webhook_endpoints();
    assert_eq!(endpoints.len(), 3);
    assert_eq!(endpoints[0].key_fingerprint, sim.stats().keys[0].fingerprint);
    let admin =
        client().get(admin_url(&sim, "/webhooks/endpoints")).send().await.unwrap().text().await.unwrap();
    assert!(admin.contains(&first) && !admin.contains("whsec_"), "{admin}");
    sim.shutdown().await;
}

#[tokio::test]
async fn delete_removes_one_endpoint_and_replays_under_its_idempotency_key() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let (id, _) = register(&api, "https://example.test/hooks", json!([])).await;
    let delete = || api.http.delete(api.url(&format!("/webhooks/{id}"))).header("X-API-Key", DEMO_KEY);
    let deleted = delete().header("Idempotency-Key", "delete-once").send().await.unwrap();
    assert_eq!(deleted.status(), 200);
    assert_eq!(json(deleted).await["data"], json!({ "id": id, "deleted": true }));
    let replayed = delete().header("Idempotency-Key", "delete-once").send().await.unwrap();
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(delete().send().await.unwrap().status(), 404, "gone, and a new key executes again");
    assert_eq!(api.get_json("/webhooks").await["pagination"]["total"], 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn post_webhooks_refuses_an_idempotency_key_and_a_bad_url_or_events() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let body = r#"{"url":"https://example.test/hooks"}"#;
    let (status, error, _) =
        code(api.post("/webhooks", body).header("Idempotency-Key", "k").send().await.unwrap()).await;
    assert_eq!((status, error.as_str()), (400, "IDEMPOTENCY_KEY_NOT_ALLOWED_FOR_SENSITIVE_RESPONSE"));
    for bad in [r#"{"url":"ftp://x"}"#, r#"{}"#, r#"{"url":"https://x.test","events":"bundle.created"}"#] {
        let (status, error, _) = code(api.post("/webhooks", bad).send().await.unwrap()).await;
        assert_eq!((status, error.as_str()), (400, "VALIDATION_ERROR"), "{bad}");
    }
    assert!(sim.webhook_endpoints().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn the_deliveries_list_is_paginated_newest_first_and_a_reset_forgets_every_endpoint() {
    let sim = start(unlimited()).await;
    let receiver = Receiver::start().await;
    let api = Api::new(&sim);
    let (id, _) = register(&api, &receiver.url, json!([])).await;
    let inserted = sim.insert_bundles(3);
    receiver.wait_for(3).await;
    let events = sim.webhook_events();
    super::super::support::until(|| {
        sim.webhook_events()
            .iter()
            .all(|e| e.deliveries[0].state == tokportal_sync::sim::DeliveryState::Delivered)
    })
    .await;
    let page = api.get_json(&format!("/webhooks/{id}/deliveries?per_page=2")).await;
    assert_eq!(page["pagination"], json!({ "page": 1, "per_page": 2, "total": 3, "total_pages": 2 }));
    let newest = &page["data"][0];
    assert_eq!(newest["event_id"], events[2].id);
    assert_eq!(newest["event_type"], "bundle.created");
    assert_eq!((newest["status"].as_str(), newest["attempts"].as_u64()), (Some("delivered"), Some(1)));
    assert_eq!(newest["status_code"], 200);
    assert_eq!((&newest["success"], &newest["error"]), (&json!(true), &serde_json::Value::Null));
    assert!(newest["delivered_at"].is_string() && newest["next_attempt_at"].is_null(), "{newest}");
    assert_eq!(events.iter().map(|e| e.bundle_id.clone().unwrap()).collect::<Vec<_>>(), inserted);
    assert_eq!(client().post(admin_url(&sim, "/reset")).send().await.unwrap().status(), 204);
    assert!(sim.webhook_endpoints().is_empty() && sim.webhook_events().is_empty());
    sim.insert_bundles(1);
    assert!(sim.webhook_events().is_empty(), "no endpoint, nothing emitted");
    sim.shutdown().await;
}
