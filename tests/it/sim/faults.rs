//! Each fault knob, set in-process or over the admin API, and what it does.

use std::time::Duration;

use tokportal_sync::sim::{DEMO_KEY, DriftKind, FaultTarget, Faults};

use super::support::{Api, CREATE, client, code, header, start, unlimited};

#[tokio::test]
async fn fail_next_answers_5xx_before_executing_then_the_same_key_executes() {
    let sim = start(unlimited()).await;
    sim.update_faults(|f| f.fail_next = 2).unwrap();
    let api = Api::new(&sim);
    for _ in 0..2 {
        let (status, code, _) =
            code(api.post("/bundles", CREATE).header("Idempotency-Key", "retry-me").send().await.unwrap())
                .await;
        assert_eq!((status, code.as_str()), (503, "INTERNAL_ERROR"));
    }
    assert!(sim.ledger().is_empty(), "nothing executed");
    let response = api.post("/bundles", CREATE).header("Idempotency-Key", "retry-me").send().await.unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(header(&response, "idempotent-replayed"), None, "the key was not kept by the failures");
    assert_eq!(sim.stats().faults_fired.failed, 2);
    assert_eq!(sim.faults().fail_next, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn fail_rate_one_fails_everything_and_the_target_limits_it_to_writes() {
    let sim = start(unlimited()).await;
    sim.set_faults(Faults {
        fail_rate: 1.0,
        fail_status: 500,
        target: FaultTarget::Writes,
        ..Faults::default()
    })
    .unwrap();
    let api = Api::new(&sim);
    assert_eq!(api.get("/bundles").send().await.unwrap().status(), 200);
    for _ in 0..3 {
        assert_eq!(api.post("/bundles", CREATE).send().await.unwrap().status(), 500);
    }
    assert!(sim.update_faults(|f| f.fail_status = 404).is_err(), "only 5xx can be injected");
    sim.update_faults(|f| f.fail_rate = 0.0).unwrap();
    assert_eq!(api.post("/bundles", CREATE).send().await.unwrap().status(), 201);
    sim.shutdown().await;
}

#[tokio::test]
async fn drop_next_executes_then_closes_the_connection_without_an_answer() {
    let sim = start(unlimited()).await;
    sim.update_faults(|f| f.drop_next = 1).unwrap();
    let api = Api::new(&sim);
    let lost = api.post("/bundles", CREATE).header("Idempotency-Key", "lost").send().await;
    let error = lost.expect_err("no answer");
    assert!(!error.is_timeout() && !error.is_status(), "{error:?}");
    assert_eq!(sim.ledger().len(), 1, "it executed");
    let retry = api.post("/bundles", CREATE).header("Idempotency-Key", "lost").send().await.unwrap();
    assert_eq!(header(&retry, "idempotent-replayed"), Some("true"));
    assert_eq!(sim.ledger().len(), 1);
    assert_eq!(sim.stats().faults_fired.dropped, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn stall_next_executes_then_holds_the_answer_past_the_client_timeout() {
    let sim = start(unlimited()).await;
    sim.update_faults(|f| {
        f.stall_next = 1;
        f.stall_ms = 30_000;
    })
    .unwrap();
    let api = Api::new(&sim);
    let stalled = api
        .post("/bundles", CREATE)
        .header("Idempotency-Key", "stalled")
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(stalled.expect_err("the client gives up").is_timeout());
    assert_eq!(sim.ledger().len(), 1, "it executed");
    let retry = api.post("/bundles", CREATE).header("Idempotency-Key", "stalled").send().await.unwrap();
    assert_eq!(header(&retry, "idempotent-replayed"), Some("true"));
    assert_eq!(sim.stats().faults_fired.stalled, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn malformed_next_cuts_list_pages_short() {
    let sim = start(unlimited()).await;
    sim.update_faults(|f| f.malformed_next = 1).unwrap();
    let api = Api::new(&sim);
    let response = api.get("/bundles").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.starts_with("{\"data\":["));
    assert!(serde_json::from_str::<serde_json::Value>(&text).is_err());
    let next = api.get_json("/bundles").await;
    assert_eq!(next["pagination"]["total"], 137);
    assert_eq!(sim.stats().faults_fired.malformed, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn drift_every_inserts_at_the_head_while_a_client_walks() {
    let sim = start(unlimited()).await;
    sim.update_faults(|f| {
        f.drift_every = 2;
        f.drift_kind = DriftKind::Insert;
    })
    .unwrap();
    let api = Api::new(&sim);
    let first = api.get_json("/bundles?per_page=100").await;
    let second = api.get_json("/bundles?page=2&per_page=100").await;
    assert_eq!(first["pagination"]["total"], 137);
    assert_eq!(second["pagination"]["total"], 138, "the second request saw one insert");
    // The insert pushed the last item of page 1 onto page 2: a duplicate across pages.
    assert_eq!(second["data"][0]["id"], first["data"][99]["id"]);
    assert_eq!(sim.stats().faults_fired.drifted, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn mixed_drift_changes_the_dataset_every_nth_list_request() {
    let sim = start(unlimited()).await;
    sim.update_faults(|f| f.drift_every = 1).unwrap();
    let api = Api::new(&sim);
    let before = sim.dataset();
    for _ in 0..6 {
        api.get("/bundles").send().await.unwrap();
    }
    assert_eq!(sim.stats().faults_fired.drifted, 6);
    assert_ne!(sim.dataset(), before);
    sim.shutdown().await;
}

#[tokio::test]
async fn data_changes_show_up_in_the_next_request() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let inserted = sim.insert_bundles(2);
    let head = api.get_json("/bundles?per_page=2").await;
    let head_ids: Vec<&str> =
        head["data"].as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap()).collect();
    assert_eq!(head_ids, vec![inserted[1].as_str(), inserted[0].as_str()], "newest first");
    assert_eq!(sim.delete_bundles(&inserted[..1]), inserted[..1].to_vec());
    let (status, _, _) = code(api.get(&format!("/bundles/{}", inserted[0])).send().await.unwrap()).await;
    assert_eq!(status, 404);
    let mut set = serde_json::Map::new();
    set.insert("status".into(), "accepted".into());
    assert!(sim.change_bundle(&inserted[1], set));
    assert_eq!(api.get_json(&format!("/bundles/{}", inserted[1])).await["data"]["status"], "accepted");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_admin_api_sets_faults_changes_data_and_drains_keys_without_a_key() {
    let sim = start(tokportal_sync::sim::SimConfig::default()).await;
    let http = client();
    let admin = |path: &str| format!("{}{path}", sim.admin_url());
    let put = http.put(admin("/faults")).body(r#"{"fail_next":1,"target":"reads"}"#).send().await.unwrap();
    assert_eq!(put.status(), 200);
    let patched = http.patch(admin("/faults")).body(r#"{"malformed_next":3}"#).send().await.unwrap();
    let patched: serde_json::Value = patched.json().await.unwrap();
    assert_eq!((patched["fail_next"].as_u64(), patched["malformed_next"].as_u64()), (Some(1), Some(3)));
    assert_eq!(sim.faults().target, FaultTarget::Reads);
    let bad = http.put(admin("/faults")).body(r#"{"fail_status":200}"#).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let unknown = http.put(admin("/faults")).body(r#"{"explode":true}"#).send().await.unwrap();
    assert_eq!(unknown.status(), 400);
    let inserted: serde_json::Value =
        http.post(admin("/data/insert")).body(r#"{"count":3}"#).send().await.unwrap().json().await.unwrap();
    assert_eq!(inserted["inserted"].as_array().unwrap().len(), 3);
    let deleted: serde_json::Value =
        http.post(admin("/data/delete")).body(r#"{"count":2}"#).send().await.unwrap().json().await.unwrap();
    assert_eq!(deleted["deleted"].as_array().unwrap().len(), 2);
    let id = &inserted["inserted"][0];
    let body = serde_json::json!({ "ids": [id], "set": { "status": "cancelled" } }).to_string();
    let changed: serde_json::Value =
        http.post(admin("/data/change")).body(body).send().await.unwrap().json().await.unwrap();
    assert_eq!(changed["changed"], serde_json::json!([id]));
    let fingerprint = sim.key_stats(DEMO_KEY).unwrap().fingerprint;
    let drained = http
        .post(admin(&format!("/keys/{fingerprint}/drain")))
        .body(r#"{"seconds":60}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(drained.status(), 204);
    assert_eq!(Api::new(&sim).get("/credits/balance").send().await.unwrap().status(), 429);
    let unknown_key = http.post(admin("/keys/0000/drain")).body(r#"{"seconds":1}"#).send().await.unwrap();
    assert_eq!(unknown_key.status(), 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn faults_given_at_start_apply_from_the_first_request_and_come_back_on_reset() {
    let config = tokportal_sync::sim::SimConfig {
        faults: Faults { fail_next: 1, ..Faults::default() },
        ..unlimited()
    };
    let sim = start(config).await;
    let api = Api::new(&sim);
    assert_eq!(api.get("/bundles").send().await.unwrap().status(), 503);
    assert_eq!(api.get("/bundles").send().await.unwrap().status(), 200);
    sim.reset();
    assert_eq!(sim.faults().fail_next, 1);
    sim.shutdown().await;
}

/// A request consuming `fail_next` while an update of other knobs is under way:
/// the update must not write back the count it read before (the request's
/// failure would be handed out twice). The "request" runs on another thread in
/// the middle of the update, so the interleaving is fixed, not hoped for.
#[test]
fn an_update_never_restores_a_counted_knob_consumed_meanwhile() {
    use tokportal_sync::sim::control;
    use tokportal_sync::sim::rng::Rng;
    use tokportal_sync::sim::state::Shared;

    let faults = Faults { fail_next: 1, ..Faults::default() };
    let shared = Shared::new(tokportal_sync::sim::SimConfig { faults, ..unlimited() });
    let mut consumed = false;
    let updated = control::update_faults(&shared, |f| {
        consumed = std::thread::scope(|s| {
            s.spawn(|| match shared.faults.try_lock() {
                Ok(mut live) => live.take_fail(true, &mut Rng::new(1)).is_some(),
                Err(_) => false, // held by the update: the request waits for it
            })
            .join()
            .unwrap()
        });
        f.slow_ms = 7;
        Ok(())
    })
    .unwrap();
    let live = shared.faults.lock().unwrap().clone();
    assert_eq!(live, updated);
    assert_eq!(live.slow_ms, 7);
    assert_eq!(live.fail_next, if consumed { 0 } else { 1 }, "consumed meanwhile: {consumed}");
    let refused = control::update_faults(&shared, |f| {
        f.fail_status = 200;
        Ok(())
    });
    assert!(refused.is_err());
    assert_eq!(*shared.faults.lock().unwrap(), live, "an invalid update changes nothing");
}

#[tokio::test]
async fn latency_makes_every_answer_take_at_least_the_set_time_jitter_only_adds() {
    let sim = start(unlimited()).await;
    sim.update_faults(|f| {
        f.latency_ms = 150;
        f.latency_jitter_ms = 50;
    })
    .unwrap();
    let api = Api::new(&sim);
    for _ in 0..3 {
        let asked = std::time::Instant::now();
        assert_eq!(api.get("/bundles").send().await.unwrap().status(), 200);
        assert!(asked.elapsed() >= Duration::from_millis(150), "answered after {:?}", asked.elapsed());
    }
    sim.update_faults(|f| f.latency_ms = 0).unwrap();
    assert_eq!(sim.faults().latency_jitter_ms, 50);
    sim.shutdown().await;
}
