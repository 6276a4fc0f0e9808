//! The seeded dataset and the single-bundle reads.

use std::collections::HashSet;

use serde_json::Value;
use tokportal_sync::sim::SimConfig;
use tokportal_sync::sim::vocab::{BUNDLE_TYPES, STATUSES, UNKNOWN_STATUS};

use super::support::{Api, code, start, unlimited};

fn bundles(dataset: &Value) -> &Vec<Value> {
    dataset["bundles"].as_array().unwrap()
}

#[tokio::test]
async fn the_same_seed_gives_the_same_dataset_and_another_seed_another() {
    let (a, b) = (start(unlimited()).await, start(unlimited()).await);
    let c = start(SimConfig { seed: 7, ..unlimited() }).await;
    assert_eq!(a.dataset()["bundles"], b.dataset()["bundles"]);
    assert_ne!(a.bundle_ids(), c.bundle_ids());
    for sim in [a, b, c] {
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn the_dataset_is_awkward_on_purpose() {
    let sim = start(unlimited()).await;
    let dataset = sim.dataset();
    let all = bundles(&dataset);
    let statuses: HashSet<&str> = all.iter().map(|b| b["status"].as_str().unwrap()).collect();
    for status in STATUSES.iter().chain([&UNKNOWN_STATUS]) {
        assert!(statuses.contains(status), "status {status} is missing");
    }
    let types: HashSet<&str> = all.iter().map(|b| b["bundle_type"].as_str().unwrap()).collect();
    assert_eq!(types, BUNDLE_TYPES.into_iter().collect());
    assert!(all.iter().any(|b| b["title"].is_null()));
    assert!(all.iter().any(|b| b["external_ref"].is_null()));
    assert!(
        all.iter().any(|b| b["saved_account_id"].is_null())
            && all.iter().any(|b| b["saved_account_id"].is_string())
    );
    let titles: Vec<&str> = all.iter().filter_map(|b| b["title"].as_str()).collect();
    assert!(titles.iter().any(|t| t.contains('"')));
    assert!(titles.iter().any(|t| t.chars().any(char::is_control)));
    assert!(titles.iter().any(|t| !t.is_ascii()));
    assert!(all.iter().any(|b| b.get("x_beta_flags").is_some()), "some items carry undocumented fields");
    let mut refs: Vec<&str> = all.iter().filter_map(|b| b["external_ref"].as_str()).collect();
    let distinct = refs.iter().collect::<HashSet<_>>().len();
    refs.sort();
    assert!(distinct < refs.len(), "external_ref is not unique");
    assert!(all.iter().all(|b| uuid::Uuid::parse_str(b["id"].as_str().unwrap()).is_ok()));
    sim.shutdown().await;
}

#[tokio::test]
async fn one_bundle_embeds_its_account_and_video_slots() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let dataset = sim.dataset();
    let with_videos = bundles(&dataset).iter().find(|b| b["videos_quantity"].as_i64().unwrap() > 1).unwrap();
    let id = with_videos["id"].as_str().unwrap();
    let one = api.get_json(&format!("/bundles/{id}")).await;
    assert_eq!(one["data"]["id"], id);
    assert_eq!(one["data"]["account"]["bundle_id"], id);
    let videos = api.get_json(&format!("/bundles/{id}/videos")).await;
    let positions: Vec<i64> =
        videos["data"].as_array().unwrap().iter().map(|v| v["position"].as_i64().unwrap()).collect();
    let expected: Vec<i64> = (1..=with_videos["videos_quantity"].as_i64().unwrap()).collect();
    assert_eq!(positions, expected, "1-based positions, not paginated");
    assert!(videos.get("pagination").is_none());
    let account = api.get_json(&format!("/bundles/{id}/account")).await;
    assert_eq!(account["data"], one["data"]["account"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_or_malformed_bundle_ids_are_bundle_not_found() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    for path in [
        format!("/bundles/{}", uuid::Uuid::nil()),
        "/bundles/bnd_abc123".to_string(),
        format!("/bundles/{}/videos", uuid::Uuid::nil()),
        format!("/bundles/{}/account", uuid::Uuid::nil()),
    ] {
        let (status, code, _) = code(api.get(&path).send().await.unwrap()).await;
        assert_eq!((status, code.as_str()), (404, "BUNDLE_NOT_FOUND"), "{path}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_deleted_bundle_and_its_children_are_bundle_not_found() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let id = sim.bundle_ids()[5].clone();
    for path in [format!("/bundles/{id}"), format!("/bundles/{id}/videos"), format!("/bundles/{id}/account")]
    {
        assert_eq!(api.get(&path).send().await.unwrap().status(), 200, "{path}");
    }
    assert_eq!(sim.delete_bundles(std::slice::from_ref(&id)), vec![id.clone()]);
    for path in [format!("/bundles/{id}"), format!("/bundles/{id}/videos"), format!("/bundles/{id}/account")]
    {
        let (status, code, details) = code(api.get(&path).send().await.unwrap()).await;
        assert_eq!((status, code.as_str()), (404, "BUNDLE_NOT_FOUND"), "{path}");
        assert_eq!(details["bundle_id"], id.as_str());
    }
    assert!(sim.bundle(&id).is_none() && !sim.list_items().contains_key(&id));
    assert_eq!(api.get_json("/bundles").await["pagination"]["total"], 136);
    sim.shutdown().await;
}
