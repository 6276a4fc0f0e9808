//! Deliveries: signed as the reference says, retried on the configured
//! schedule, recorded attempt by attempt, and never held up by another endpoint.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use tokio::sync::Notify;
use tokportal_sync::sim::{DeliveryState, SimConfig, WebhookConfig};

use super::super::support::{Api, CREATE, admin_url, client, start, unlimited, until};
use super::{Receiver, register, set};

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Retries after 10, 20, 40 ms: the schedule of a test, not of a demo.
fn quick(max_attempts: u32) -> SimConfig {
    let webhooks = WebhookConfig {
        retry_base: Duration::from_millis(10),
        retry_cap: Duration::from_millis(40),
        max_attempts,
        ..WebhookConfig::default()
    };
    SimConfig { webhooks, ..unlimited() }
}

#[tokio::test]
async fn a_change_made_through_the_handle_arrives_signed_with_its_event_id() {
    let sim = start(unlimited()).await;
    let receiver = Receiver::start().await;
    let (endpoint, secret) = register(&Api::new(&sim), &receiver.url, json!([])).await;
    let id = sim.insert_bundles(1).remove(0);
    let got = receiver.wait_for(1).await;
    let delivery = &got[0];
    assert_eq!(delivery.header("content-type"), "application/json");
    assert!(delivery.verifies(&secret), "{}", delivery.header("tokportal-signature"));
    assert!(!delivery.verifies("whsec_someone_else"));
    assert!((now() - delivery.signed_at()).abs() <= 300, "t is now, within the SDKs' tolerance");
    let envelope = delivery.json();
    assert_eq!(delivery.event_id(), envelope["id"].as_str().unwrap());
    assert!(delivery.event_id().starts_with("evt_"), "{}", delivery.event_id());
    assert_eq!(
        (envelope["type"].as_str(), envelope["data"]["id"].as_str()),
        (Some("bundle.created"), Some(id.as_str()))
    );
    let created_at = envelope["created_at"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(created_at).is_ok(), "{created_at}");
    assert_eq!(created_at.len(), "2026-01-05T08:00:00.000Z".len(), "milliseconds: {created_at}");

    until(|| sim.webhook_events()[0].deliveries[0].state == DeliveryState::Delivered).await;
    let event = sim.webhook_events().remove(0);
    assert_eq!(
        (event.id.as_str(), event.bundle_id.as_deref()),
        (delivery.event_id().as_str(), Some(id.as_str()))
    );
    assert_eq!(event.deliveries[0].endpoint_id, endpoint);
    assert_eq!(event.deliveries[0].attempts.iter().map(|a| a.status).collect::<Vec<_>>(), [Some(200)]);
    let admin = client().get(admin_url(&sim, "/webhooks/events")).send().await.unwrap();
    let admin: serde_json::Value = admin.json().await.unwrap();
    assert_eq!(admin["data"][0]["id"], event.id);
    assert_eq!(admin["data"][0]["deliveries"][0]["state"], "delivered");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_500_is_retried_with_the_same_event_and_the_deliveries_list_shows_the_attempts() {
    let sim = start(quick(5)).await;
    let receiver = Receiver::start().await;
    receiver.fail_next(2);
    let api = Api::new(&sim);
    let (endpoint, secret) = register(&api, &receiver.url, json!([])).await;
    sim.insert_bundles(1);
    let got = receiver.wait_for(3).await;
    assert!(got.iter().all(|r| r.event_id() == got[0].event_id() && r.body == got[0].body));
    assert!(got.iter().all(|r| r.verifies(&secret)), "every retry is signed");
    until(|| sim.webhook_events()[0].deliveries[0].state == DeliveryState::Delivered).await;
    let attempts = &sim.webhook_events()[0].deliveries[0].attempts;
    assert_eq!(attempts.iter().map(|a| a.status).collect::<Vec<_>>(), [Some(500), Some(500), Some(200)]);
    let listed = api.get_json(&format!("/webhooks/{endpoint}/deliveries")).await;
    let item = &listed["data"][0];
    assert_eq!((item["attempts"].as_u64(), item["status"].as_str()), (Some(3), Some("delivered")));
    assert_eq!(item["event_id"], got[0].event_id());
    assert_eq!(receiver.got().len(), 3, "nothing after a 2xx");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_delivery_that_keeps_failing_stops_after_max_attempts() {
    let sim = start(quick(3)).await;
    let receiver = Receiver::start().await;
    receiver.fail_next(usize::MAX);
    let api = Api::new(&sim);
    let (endpoint, _) = register(&api, &receiver.url, json!([])).await;
    sim.insert_bundles(1);
    until(|| sim.webhook_events()[0].deliveries[0].state == DeliveryState::Failed).await;
    assert_eq!(receiver.got().len(), 3);
    let listed = api.get_json(&format!("/webhooks/{endpoint}/deliveries")).await;
    assert_eq!(listed["data"][0]["status"], "failed");
    assert_eq!(
        (listed["data"][0]["attempts"].as_u64(), listed["data"][0]["status_code"].as_u64()),
        (Some(3), Some(500))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_connection_refused_is_recorded_as_an_error_and_retried() {
    let sim = start(quick(2)).await;
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", closed.local_addr().unwrap());
    drop(closed);
    register(&Api::new(&sim), &url, json!([])).await;
    sim.insert_bundles(1);
    until(|| sim.webhook_events()[0].deliveries[0].state == DeliveryState::Failed).await;
    let attempts = &sim.webhook_events()[0].deliveries[0].attempts;
    assert_eq!(attempts.len(), 2);
    assert!(attempts.iter().all(|a| a.status.is_none() && a.error.is_some()), "{attempts:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn an_endpoint_that_never_answers_holds_back_neither_another_endpoint_nor_the_api() {
    // Long enough that the stuck delivery is never retried during the test.
    let webhooks = WebhookConfig { timeout: Duration::from_secs(600), ..WebhookConfig::default() };
    let sim = start(SimConfig { webhooks, ..unlimited() }).await;
    let stuck = Receiver::holding(Arc::new(Notify::new())).await;
    let healthy = Receiver::start().await;
    let api = Api::new(&sim);
    register(&api, &stuck.url, json!([])).await;
    register(&api, &healthy.url, json!([])).await;
    let id = sim.insert_bundles(1).remove(0);
    stuck.wait_for(1).await;
    let created = api.post("/bundles", CREATE).timeout(Duration::from_secs(10)).send().await.unwrap();
    assert_eq!(created.status(), 201, "the API answers while a delivery hangs");
    sim.change_bundle(&id, set(json!({ "status": "published" })));
    let got = healthy.wait_for(3).await;
    let kinds: Vec<_> = got.iter().map(|r| r.json()["type"].as_str().unwrap().to_string()).collect();
    assert_eq!(kinds, ["bundle.created", "bundle.created", "bundle.published"], "in the order emitted");
    assert_eq!(stuck.got().len(), 1, "one delivery at a time to the stuck endpoint");
    sim.shutdown().await;
}
