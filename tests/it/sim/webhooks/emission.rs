//! Which changes emit which events, however they are made: the handle, the
//! admin endpoints, the API and drift. Bundle events exist only for created,
//! published, cancelled and archived.

use serde_json::json;
use tokportal_sync::sim::DriftKind;

use super::super::support::{Api, CREATE, admin_url, client, start, unlimited};
use super::{Receiver, bundle_in, kinds, register, set};

#[tokio::test]
async fn only_created_published_cancelled_and_archived_emit_bundle_events() {
    let sim = start(unlimited()).await;
    let receiver = Receiver::start().await;
    register(&Api::new(&sim), &receiver.url, json!([])).await;
    let id = bundle_in(&sim, "pending_setup");
    for status in ["accepted", "completed", "published", "published", "cancelled", "archived", "in_review"] {
        assert!(sim.change_bundle(&id, set(json!({ "status": status }))));
    }
    sim.change_bundle(&id, set(json!({ "title": "renamed" })));
    sim.delete_bundles(std::slice::from_ref(&id));
    assert_eq!(kinds(&sim), ["bundle.published", "bundle.cancelled", "bundle.archived"]);
    let got = receiver.wait_for(3).await;
    let published = got.iter().map(|r| r.json()).find(|e| e["type"] == "bundle.published").unwrap();
    assert_eq!(published["data"]["id"], id, "a bundle event names its bundle in data.id");
    assert_eq!(published["data"]["status"], "published");
    assert!(published["data"]["videos"].is_array(), "data is the bundle as GET /bundles/{{id}} serves it");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_admin_endpoints_and_drift_emit_too() {
    let sim = start(unlimited()).await;
    let receiver = Receiver::start().await;
    register(&Api::new(&sim), &receiver.url, json!([])).await;
    let http = client();
    let inserted = http.post(admin_url(&sim, "/data/insert")).body(r#"{"count":2}"#).send().await.unwrap();
    let ids: Vec<String> =
        serde_json::from_value(inserted.json::<serde_json::Value>().await.unwrap()["inserted"].clone())
            .unwrap();
    let change = json!({ "ids": [ids[0]], "set": { "status": "cancelled" } });
    http.post(admin_url(&sim, "/data/change")).json(&change).send().await.unwrap();
    sim.update_faults(|f| {
        f.drift_every = 1;
        f.drift_kind = DriftKind::Insert;
    })
    .unwrap();
    Api::new(&sim).get("/bundles").send().await.unwrap();
    assert_eq!(kinds(&sim), ["bundle.created", "bundle.created", "bundle.cancelled", "bundle.created"]);
    let events = sim.webhook_events();
    assert_eq!(events[2].bundle_id.as_deref(), Some(ids[0].as_str()));
    assert_eq!(receiver.wait_for(4).await.len(), 4);
    sim.shutdown().await;
}

#[tokio::test]
async fn api_mutations_emit_created_published_and_child_events_but_not_unpublish_or_a_title() {
    let sim = start(unlimited()).await;
    let receiver = Receiver::start().await;
    let api = Api::new(&sim);
    register(&api, &receiver.url, json!([])).await;
    let created =
        api.post("/bundles", CREATE).send().await.unwrap().json::<serde_json::Value>().await.unwrap();
    let id = created["data"]["id"].as_str().unwrap().to_string();
    let bulk = CREATE.replacen('{', r#"{"quantity":2,"#, 1);
    assert_eq!(api.post("/bundles/bulk", &bulk).send().await.unwrap().status(), 201);
    api.post(&format!("/bundles/{id}/publish"), "").send().await.unwrap();
    api.post(&format!("/bundles/{id}/unpublish"), "").send().await.unwrap();
    api.patch(&format!("/bundles/{id}"), r#"{"title":"new"}"#).send().await.unwrap();
    api.post(&format!("/bundles/{id}/add-video-slots"), r#"{"quantity":1}"#).send().await.unwrap();
    let put = |path: String, body: &str| {
        api.http
            .put(api.url(&path))
            .header("X-API-Key", &api.key)
            .header("Content-Type", "application/json")
            .body(body.to_string())
    };
    assert_eq!(
        put(format!("/bundles/{id}/videos/1"), r#"{"caption":"hi"}"#).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        put(format!("/bundles/{id}/account"), r#"{"bio":"hello"}"#).send().await.unwrap().status(),
        200
    );
    let expected = [
        "bundle.created",
        "bundle.created",
        "bundle.created",
        "bundle.published",
        "video.created",
        "video.updated",
        "account.updated",
    ];
    assert_eq!(kinds(&sim), expected);
    let got = receiver.wait_for(expected.len()).await;
    let slot = got.iter().map(|r| r.json()).find(|e| e["type"] == "video.created").unwrap();
    assert_eq!(
        (slot["data"]["bundle_id"].as_str(), slot["data"]["position"].as_u64()),
        (Some(id.as_str()), Some(4))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn video_and_account_events_carry_their_bundle_id() {
    let sim = start(unlimited()).await;
    let receiver = Receiver::start().await;
    register(&Api::new(&sim), &receiver.url, json!([])).await;
    let snapshot = sim.snapshot();
    let with_slots = snapshot.iter().find(|(_, b)| {
        b.item["status"] == "pending_setup" && b.videos.as_array().is_some_and(|v| v.len() >= 2)
    });
    let id = with_slots.map(|(id, _)| id.clone()).expect("a seeded pending_setup bundle with two slots");
    sim.change_video(&id, 2, set(json!({ "status": "published" })));
    sim.change_video(&id, 2, set(json!({ "caption": "edited" })));
    sim.change_video(&id, 1, set(json!({})));
    sim.change_account(&id, set(json!({ "status": "banned" })));
    sim.change_account(&id, set(json!({ "bio": "hi" })));
    let mut videos = sim.bundle_videos(&id).unwrap().as_array().unwrap().clone();
    videos.pop();
    sim.set_videos(&id, videos);
    let expected = ["video.published", "video.updated", "account.banned", "account.updated", "video.deleted"];
    assert_eq!(kinds(&sim), expected, "an unchanged slot emits nothing");
    let got = receiver.wait_for(expected.len()).await;
    for event in got.iter().map(|r| r.json()) {
        assert_eq!(event["data"]["bundle_id"], id, "{event}");
        assert!(event["id"].as_str().unwrap().starts_with("evt_"));
    }
    let published = got.iter().map(|r| r.json()).find(|e| e["type"] == "video.published").unwrap();
    assert_eq!(
        (published["data"]["position"].as_u64(), published["data"]["status"].as_str()),
        (Some(2), Some("published"))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn events_of_a_type_not_subscribed_are_not_delivered() {
    let sim = start(unlimited()).await;
    let receiver = Receiver::start().await;
    register(&Api::new(&sim), &receiver.url, json!(["bundle.published"])).await;
    let id = sim.insert_bundles(1).remove(0);
    sim.change_bundle(&id, set(json!({ "status": "published" })));
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].json()["type"], "bundle.published");
    let events = sim.webhook_events();
    assert_eq!(events[0].kind, "bundle.created");
    assert!(events[0].deliveries.is_empty(), "no endpoint wanted it");
    assert_eq!(receiver.got().len(), 1, "the created event, emitted first, never came");
    sim.shutdown().await;
}
