//! What `SimServer` shows of its bundles is exactly what the endpoints serve,
//! and its changes to a bundle's children show up in the reads.

use serde_json::{Map, Value, json};

use super::support::{Api, start, unlimited};

fn set(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

#[tokio::test]
async fn the_snapshot_is_exactly_what_the_list_and_the_child_endpoints_serve() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let snapshot = sim.snapshot();
    assert_eq!(snapshot.len(), 137);
    let mut served = Vec::new();
    for page in 1..=2 {
        let body = api.get_json(&format!("/bundles?page={page}&per_page=100")).await;
        served.extend(body["data"].as_array().unwrap().iter().cloned());
    }
    for item in &served {
        let id = item["id"].as_str().unwrap();
        assert_eq!(&snapshot[id].item, item, "the list item of {id}");
    }
    assert_eq!(
        sim.list_items().into_values().collect::<Vec<_>>(),
        snapshot.values().map(|b| b.item.clone()).collect::<Vec<_>>()
    );
    for id in sim.bundle_ids().iter().take(20) {
        let videos = api.get_json(&format!("/bundles/{id}/videos")).await;
        let account = api.get_json(&format!("/bundles/{id}/account")).await;
        assert_eq!(snapshot[id].videos, videos["data"]);
        assert_eq!(snapshot[id].account, account["data"]);
        assert_eq!(sim.bundle_videos(id).unwrap(), videos["data"]);
        assert_eq!(sim.bundle_account(id).unwrap(), account["data"]);
        let detail = api.get_json(&format!("/bundles/{id}")).await;
        assert_eq!(detail["data"]["videos"], videos["data"]);
    }
    assert!(
        sim.bundle_videos("no-such-id").is_none()
            && sim.bundle_account(&uuid::Uuid::nil().to_string()).is_none()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn changing_a_video_slot_or_the_account_changes_only_that_child() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let items = sim.list_items();
    let (id, item) = items.iter().find(|(_, b)| b["videos_quantity"].as_i64().unwrap() >= 2).unwrap();
    let before = sim.bundle(id).unwrap();
    assert!(sim.change_video(id, 2, set(json!({ "status": "finalized", "caption": "new ✨" }))));
    let videos = api.get_json(&format!("/bundles/{id}/videos")).await["data"].clone();
    assert_eq!(
        (videos[1]["status"].as_str(), videos[1]["caption"].as_str()),
        (Some("finalized"), Some("new ✨"))
    );
    assert_eq!(videos[0], before.videos[0], "the other slots are untouched");
    assert!(sim.change_account(id, set(json!({ "username": "renamed", "status": "banned" }))));
    let account = api.get_json(&format!("/bundles/{id}/account")).await["data"].clone();
    assert_eq!((account["username"].as_str(), account["status"].as_str()), (Some("renamed"), Some("banned")));
    assert_eq!(account["bundle_id"], before.account["bundle_id"]);
    assert_eq!(&sim.list_items()[id], item, "the list item does not change with its children");
    assert!(sim.set_videos(id, vec![videos[0].clone()]));
    assert_eq!(api.get_json(&format!("/bundles/{id}/videos")).await["data"], json!([videos[0]]));
    assert!(!sim.change_video(id, 2, set(json!({ "caption": "gone" }))), "slot 2 no longer exists");
    assert!(!sim.change_video(id, 0, set(json!({ "caption": "x" }))), "positions are 1-based");
    assert!(!sim.change_account("nope", set(json!({ "bio": "x" }))));
    sim.shutdown().await;
}

#[tokio::test]
async fn changing_created_at_moves_a_bundle_and_the_admin_endpoints_change_children() {
    let sim = start(unlimited()).await;
    sim.update_faults(|f| f.order = tokportal_sync::sim::ListOrder::CreatedAtUnstable).unwrap();
    let oldest = sim.bundle_ids().last().unwrap().clone();
    assert!(sim.change_bundle(&oldest, set(json!({ "created_at": "2999-01-01T00:00:00Z" }))));
    assert_eq!(sim.bundle_ids()[0], oldest);
    let api = Api::new(&sim);
    assert_eq!(api.get_json("/bundles?per_page=1").await["data"][0]["id"], oldest.as_str());
    let http = super::support::client();
    let url = |path: &str| super::support::admin_url(&sim, path);
    let body = json!({ "id": oldest, "set": { "bio": "via admin" } });
    assert_eq!(http.post(url("/data/account")).json(&body).send().await.unwrap().status(), 204);
    assert_eq!(sim.bundle_account(&oldest).unwrap()["bio"], "via admin");
    let missing = json!({ "id": oldest, "position": 999, "set": { "caption": "x" } });
    assert_eq!(http.post(url("/data/video")).json(&missing).send().await.unwrap().status(), 404);
    sim.shutdown().await;
}
