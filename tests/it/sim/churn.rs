//! `/__sim/churn`: steady change at a rate, each change logged with its time
//! and visible to whoever asks after it (a status in the list item, a slot or
//! the account only through their endpoints), all stamped `updated_at`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokportal_sync::sim::SimConfig;

use super::support::{admin_url, client, start};

#[tokio::test]
async fn churn_changes_bundles_at_its_rate_and_logs_what_each_change_wrote() {
    let sim = start(SimConfig { bundles: 50, rate_limit: false, ..SimConfig::default() }).await;
    let http = client();
    let put = http.put(admin_url(&sim, "/churn")).body(r#"{"per_second": 200}"#).send().await.unwrap();
    assert_eq!(put.status(), 200);
    let bad = http.put(admin_url(&sim, "/churn")).body(r#"{"per_second": -1}"#).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    // Bounded wait for at least 30 changes (200 a second).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log: Value = http.get(admin_url(&sim, "/churn")).send().await.unwrap().json().await.unwrap();
        let changes = log["data"].as_array().unwrap().clone();
        if changes.len() >= 30 {
            break;
        }
        assert!(Instant::now() < deadline, "{} changes", changes.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    http.put(admin_url(&sim, "/churn")).body(r#"{"per_second": 0}"#).send().await.unwrap();
    // Stopped: the log read now is every change there will be.
    let log: Value = http.get(admin_url(&sim, "/churn")).send().await.unwrap().json().await.unwrap();
    let changes = log["data"].as_array().unwrap().clone();
    assert!(changes.len() >= 30);
    // Each change at its own time, 5 ms apart.
    for pair in changes.windows(2) {
        let gap = pair[1]["at"].as_f64().unwrap() - pair[0]["at"].as_f64().unwrap();
        assert!((gap - 0.005).abs() < 1e-6, "{gap}");
    }
    // The last change of each target is what the endpoints serve now.
    let last = changes.last().unwrap();
    let id = last["bundle_id"].as_str().unwrap();
    let now = sim.bundle(id).unwrap();
    let marker = json!(last["marker"]);
    match last["kind"].as_str().unwrap() {
        "status" => assert_eq!(now.item["updated_at"], marker),
        "slot" => {
            let position = last["position"].as_u64().unwrap() as usize;
            assert_eq!(now.videos[position - 1]["updated_at"], marker);
        }
        kind => {
            assert_eq!(kind, "account");
            assert_eq!(now.account["updated_at"], marker);
        }
    }
    let kinds: Vec<&str> = changes.iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"status") && kinds.contains(&"account"), "{kinds:?}");
    sim.shutdown().await;
}
