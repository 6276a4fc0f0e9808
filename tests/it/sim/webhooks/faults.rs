//! The webhook fault knobs, each consumed as it fires and counted in
//! `faults_fired`: duplicate, out of order, bad signature, late, drop.

use serde_json::json;
use tokportal_sync::sim::DeliveryState;

use super::super::support::{Api, admin_url, client, start, unlimited, until};
use super::{Receiver, register};

#[tokio::test]
async fn duplicate_delivers_the_same_event_id_and_body_twice() {
    let sim = start(unlimited()).await;
    let receiver = Receiver::start().await;
    let (_, secret) = register(&Api::new(&sim), &receiver.url, json!([])).await;
    sim.update_faults(|f| f.webhook_duplicate_next = 1).unwrap();
    sim.insert_bundles(2);
    let got = receiver.wait_for(3).await;
    assert_eq!(got[0].event_id(), got[1].event_id());
    assert_eq!(got[0].body, got[1].body);
    assert!(got[0].verifies(&secret) && got[1].verifies(&secret));
    assert_ne!(got[2].event_id(), got[0].event_id(), "only the next one");
    assert_eq!(sim.stats().faults_fired.webhook_duplicated, 1);
    assert_eq!(sim.faults().webhook_duplicate_next, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn out_of_order_sends_the_held_event_after_the_one_that_follows() {
    let sim = start(unlimited()).await;
    let receiver = Receiver::start().await;
    register(&Api::new(&sim), &receiver.url, json!([])).await;
    sim.update_faults(|f| f.webhook_out_of_order_next = 1).unwrap();
    sim.insert_bundles(3);
    let emitted: Vec<String> = sim.webhook_events().into_iter().map(|e| e.id).collect();
    let got = receiver.wait_for(3).await;
    let received: Vec<String> = got.iter().map(|r| r.event_id()).collect();
    assert_eq!(received, [emitted[1].clone(), emitted[0].clone(), emitted[2].clone()]);
    assert_eq!(sim.stats().faults_fired.webhook_reordered, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_signature_signs_with_another_secret_and_the_next_is_signed_right() {
    let sim = start(unlimited()).await;
    let receiver = Receiver::start().await;
    let (_, secret) = register(&Api::new(&sim), &receiver.url, json!([])).await;
    let put = client().put(admin_url(&sim, "/faults")).body(r#"{"webhook_bad_signature_next":1}"#);
    assert_eq!(put.send().await.unwrap().status(), 200);
    sim.insert_bundles(2);
    let got = receiver.wait_for(2).await;
    assert!(!got[0].verifies(&secret), "the first does not verify");
    assert!(got[1].verifies(&secret), "the second does");
    assert_eq!(sim.stats().faults_fired.webhook_bad_signature, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn late_stamps_a_signature_older_than_the_300_s_tolerance() {
    let sim = start(unlimited()).await;
    let receiver = Receiver::start().await;
    let (_, secret) = register(&Api::new(&sim), &receiver.url, json!([])).await;
    sim.update_faults(|f| f.webhook_late_next = 1).unwrap();
    sim.insert_bundles(2);
    let got = receiver.wait_for(2).await;
    let now = chrono::Utc::now().timestamp();
    assert!(now - got[0].signed_at() > 300, "t={} now={now}", got[0].signed_at());
    assert!(got[0].verifies(&secret), "late, but signed with the right secret");
    assert!(now - got[1].signed_at() <= 300);
    assert_eq!(sim.stats().faults_fired.webhook_late, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn drop_never_delivers_the_event_nor_retries_it() {
    let sim = start(unlimited()).await;
    let receiver = Receiver::start().await;
    register(&Api::new(&sim), &receiver.url, json!([])).await;
    let patch = client().patch(admin_url(&sim, "/faults")).body(r#"{"webhook_drop_next":1}"#);
    assert_eq!(patch.send().await.unwrap().status(), 200);
    sim.insert_bundles(1);
    until(|| sim.webhook_events()[0].deliveries[0].state == DeliveryState::Dropped).await;
    sim.insert_bundles(1);
    let got = receiver.wait_for(1).await;
    let events = sim.webhook_events();
    assert_eq!(got[0].event_id(), events[1].id, "the later event arrived");
    until(|| sim.webhook_events()[1].deliveries[0].state == DeliveryState::Delivered).await;
    assert_eq!(receiver.got().len(), 1, "the dropped one never did");
    assert!(sim.webhook_events()[0].deliveries[0].attempts.is_empty());
    assert_eq!(sim.stats().faults_fired.webhook_dropped, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_held_delivery_with_nothing_after_it_is_sent_after_the_longest_retry_wait() {
    let webhooks = tokportal_sync::sim::WebhookConfig {
        retry_cap: std::time::Duration::from_millis(200),
        ..tokportal_sync::sim::WebhookConfig::default()
    };
    let sim = start(tokportal_sync::sim::SimConfig { webhooks, ..unlimited() }).await;
    let receiver = Receiver::start().await;
    register(&Api::new(&sim), &receiver.url, json!([])).await;
    sim.update_faults(|f| f.webhook_out_of_order_next = 1).unwrap();
    sim.insert_bundles(1);
    // No later event comes to release it: it goes anyway (a bound on the wait, not a speed).
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].event_id(), sim.webhook_events()[0].id);
    until(|| sim.webhook_events()[0].deliveries[0].state == DeliveryState::Delivered).await;
    assert_eq!(sim.stats().faults_fired.webhook_reordered, 1);
    sim.shutdown().await;
}
