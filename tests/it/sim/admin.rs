//! The admin endpoints: stats, ledger, dataset, reset; no key, no budget, and
//! no raw API key anywhere in what they show.

use tokportal_sync::sim::{DEMO_CREDITS, DEMO_KEY, SimConfig};

use super::support::{Api, CREATE, admin_url, client, start};

#[tokio::test]
async fn admin_endpoints_need_no_key_and_spend_no_budget() {
    let sim = start(SimConfig { burst: 1, rate_per_second: 0.001, ..SimConfig::default() }).await;
    let http = client();
    for path in ["/stats", "/ledger", "/dataset", "/faults", "/stats"] {
        assert_eq!(http.get(admin_url(&sim, path)).send().await.unwrap().status(), 200, "{path}");
    }
    assert_eq!(
        Api::new(&sim).get("/bundles").send().await.unwrap().status(),
        200,
        "the one token is still there"
    );
    assert_eq!(sim.key_stats(DEMO_KEY).unwrap().requests, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn stats_ledger_and_dataset_show_fingerprints_never_keys() {
    let sim = start(SimConfig { rate_limit: false, ..SimConfig::default() }).await;
    let api = Api::new(&sim);
    api.post("/bundles", CREATE).header("Idempotency-Key", "seen").send().await.unwrap();
    api.post("/bundles", CREATE).header("Idempotency-Key", "seen").send().await.unwrap();
    let http = client();
    let mut shown = String::new();
    for path in ["/stats", "/ledger", "/dataset"] {
        shown += &http.get(admin_url(&sim, path)).send().await.unwrap().text().await.unwrap();
    }
    shown += &format!("{:?}", SimConfig::default());
    assert!(!shown.contains(DEMO_KEY), "a raw key leaked");
    let stats: serde_json::Value =
        http.get(admin_url(&sim, "/stats")).send().await.unwrap().json().await.unwrap();
    let key = &stats["keys"][0];
    assert_eq!(key["fingerprint"].as_str().unwrap().len(), 16);
    assert_eq!(
        (key["requests"].as_u64(), key["executions"].as_u64(), key["replays"].as_u64()),
        (Some(2), Some(1), Some(1))
    );
    let ledger: serde_json::Value =
        http.get(admin_url(&sim, "/ledger")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ledger["data"][0]["idempotency_key"], "seen");
    assert_eq!(ledger["data"][0]["key_fingerprint"], key["fingerprint"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn reset_restores_the_state_right_after_start() {
    let sim = start(SimConfig { rate_limit: false, ..SimConfig::default() }).await;
    let before = sim.dataset();
    let api = Api::new(&sim);
    api.post("/bundles", CREATE).header("Idempotency-Key", "once").send().await.unwrap();
    sim.update_faults(|f| f.fail_next = 5).unwrap();
    let reset = client().post(admin_url(&sim, "/reset")).send().await.unwrap();
    assert_eq!(reset.status(), 204);
    assert_eq!(sim.dataset(), before);
    assert!(sim.ledger().is_empty());
    assert_eq!(sim.faults().fail_next, 0);
    let stats = sim.key_stats(DEMO_KEY).unwrap();
    assert_eq!((stats.requests, stats.credits), (0, DEMO_CREDITS));
    let again = api.post("/bundles", CREATE).header("Idempotency-Key", "once").send().await.unwrap();
    assert!(again.headers().get("idempotent-replayed").is_none(), "idempotency stores were emptied");
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_admin_paths_are_404() {
    let sim = start(SimConfig::default()).await;
    assert_eq!(client().get(admin_url(&sim, "/nope")).send().await.unwrap().status(), 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_held_connections_and_stops_listening() {
    let sim = start(SimConfig { rate_limit: false, ..SimConfig::default() }).await;
    sim.update_faults(|f| {
        f.stall_next = 1;
        f.stall_ms = 600_000;
    })
    .unwrap();
    let api = Api::new(&sim);
    let held = tokio::spawn(api.get("/bundles").send());
    super::support::until(|| sim.stats().faults_fired.stalled == 1).await;
    let base = sim.base_url().to_string();
    tokio::time::timeout(std::time::Duration::from_secs(10), sim.shutdown())
        .await
        .expect("shutdown does not wait for the stall");
    // Answered or cut off: either way the client is not left hanging.
    tokio::time::timeout(std::time::Duration::from_secs(10), held)
        .await
        .expect("the held request ends")
        .unwrap()
        .ok();
    let after = client().get(format!("{base}/bundles")).send().await;
    assert!(after.expect_err("nothing listens any more").is_connect());
}

#[tokio::test]
async fn debug_of_a_running_simulator_shows_fingerprints_and_never_a_key() {
    let keys = vec![
        tokportal_sync::sim::SimKey::full("sk_secret_full_key_0001", 10),
        tokportal_sync::sim::SimKey::read_only("sk_secret_read_key_0002"),
    ];
    let sim = start(SimConfig { keys: keys.clone(), ..SimConfig::default() }).await;
    let debug = format!("{sim:?} {sim:#?}");
    for key in &keys {
        assert!(!debug.contains(&key.key), "{debug}");
        assert!(debug.contains(&key.fingerprint()), "{debug}");
    }
    assert!(debug.contains(&sim.addr().to_string()), "{debug}");
    sim.shutdown().await;
}
