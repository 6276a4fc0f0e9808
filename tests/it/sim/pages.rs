//! Pagination exactly as documented, and the choices made where it is silent.

use std::collections::HashSet;

use serde_json::Value;
use tokportal_sync::sim::SimConfig;

use super::support::{Api, code, start, unlimited};

fn ids(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn pages_have_the_documented_shape_and_the_last_one_is_partial() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let second = api.get_json("/bundles?page=2&per_page=50").await;
    assert_eq!(
        second["pagination"],
        serde_json::json!({ "page": 2, "per_page": 50, "total": 137, "total_pages": 3 })
    );
    assert_eq!(ids(&second).len(), 50);
    let last = api.get_json("/bundles?page=3&per_page=50").await;
    assert_eq!(ids(&last).len(), 37);
    assert_eq!(last["pagination"]["total_pages"], 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn page_and_per_page_default_to_1_and_25() {
    let sim = start(unlimited()).await;
    let page = Api::new(&sim).get_json("/bundles").await;
    assert_eq!(page["pagination"]["page"], 1);
    assert_eq!(page["pagination"]["per_page"], 25);
    assert_eq!(ids(&page).len(), 25);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_page_past_the_end_is_empty_with_correct_pagination() {
    let sim = start(unlimited()).await;
    let page = Api::new(&sim).get_json("/bundles?page=9&per_page=50").await;
    assert_eq!(page["data"], serde_json::json!([]));
    assert_eq!(
        page["pagination"],
        serde_json::json!({ "page": 9, "per_page": 50, "total": 137, "total_pages": 3 })
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn per_page_100_is_the_maximum_and_out_of_range_values_are_validation_errors() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    assert_eq!(ids(&api.get_json("/bundles?per_page=100").await).len(), 100);
    for query in
        ["per_page=101", "per_page=0", "per_page=-1", "per_page=ten", "page=0", "page=-2", "page=1.5"]
    {
        let (status, code, details) = code(api.get(&format!("/bundles?{query}")).send().await.unwrap()).await;
        assert_eq!((status, code.as_str()), (400, "VALIDATION_ERROR"), "{query}");
        assert!(details["field"] == "page" || details["field"] == "per_page", "{query}: {details}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_full_walk_sees_every_bundle_once_newest_first() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let mut seen = Vec::new();
    let mut created = Vec::new();
    for page in 1..=2 {
        let body = api.get_json(&format!("/bundles?page={page}&per_page=100")).await;
        seen.extend(ids(&body));
        created.extend(
            body["data"].as_array().unwrap().iter().map(|b| b["created_at"].as_str().unwrap().to_string()),
        );
    }
    assert_eq!(seen, sim.bundle_ids());
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 137);
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "newest first");
    sim.shutdown().await;
}

#[tokio::test]
async fn filters_narrow_both_the_items_and_the_total() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    for (name, value) in [("status", "published"), ("platform", "instagram"), ("bundle_type", "videos_only")]
    {
        let page = api.get_json(&format!("/bundles?{name}={value}&per_page=100")).await;
        let items = page["data"].as_array().unwrap();
        assert!(!items.is_empty(), "{name}={value}");
        assert!(items.iter().all(|b| b[name] == value), "{name}={value}");
        assert_eq!(page["pagination"]["total"], items.len());
    }
    let all = api.get_json("/bundles?per_page=100").await;
    let reference =
        all["data"].as_array().unwrap().iter().find_map(|b| b["external_ref"].as_str()).unwrap().to_string();
    let by_ref = api.get_json(&format!("/bundles?external_ref={reference}&per_page=100")).await;
    assert!(by_ref["data"].as_array().unwrap().iter().all(|b| b["external_ref"] == reference.as_str()));
    let both = api.get_json("/bundles?status=draft,cancelled&per_page=100").await;
    assert!(
        both["data"].as_array().unwrap().iter().all(|b| b["status"] == "draft" || b["status"] == "cancelled")
    );
    let none = api.get_json("/bundles?status=no_such_status").await;
    assert_eq!(
        none["pagination"],
        serde_json::json!({ "page": 1, "per_page": 25, "total": 0, "total_pages": 0 })
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn credit_history_is_paginated_newest_first_and_ends_at_the_balance() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let first = api.get_json("/credits/history?per_page=10").await;
    assert_eq!(first["pagination"]["total"], 41);
    assert_eq!(first["pagination"]["total_pages"], 5);
    let balance = api.get_json("/credits/balance").await["data"]["balance"].clone();
    assert_eq!(first["data"][0]["balance_after"], balance);
    let last = api.get_json("/credits/history?page=5&per_page=10").await;
    assert_eq!(last["data"].as_array().unwrap().len(), 1);
    assert_eq!(last["data"][0]["type"], "purchase");
    let (status, code, _) = code(api.get("/credits/history?per_page=500").send().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (400, "VALIDATION_ERROR"));
    let none = api.get_json("/credits/history?date_from=2030-01-01").await;
    assert_eq!(none["pagination"]["total"], 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_empty_dataset_has_zero_pages() {
    let sim = start(SimConfig { bundles: 0, ..unlimited() }).await;
    let page = Api::new(&sim).get_json("/bundles").await;
    assert_eq!(
        page["pagination"],
        serde_json::json!({ "page": 1, "per_page": 25, "total": 0, "total_pages": 0 })
    );
    sim.shutdown().await;
}
