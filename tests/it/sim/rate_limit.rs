//! The bucket over HTTP: 429s, their headers and body, per-key isolation,
//! rate limiting turned off, and draining a key.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokportal_sync::sim::{DEMO_KEY, SimConfig, SimKey};

use super::support::{Api, code, header, start, unlimited};

/// Three tokens refilling so slowly that the test never sees one come back.
fn tiny() -> SimConfig {
    SimConfig { burst: 3, rate_per_second: 0.001, ..SimConfig::default() }
}

#[tokio::test]
async fn the_request_after_the_burst_gets_a_429_with_retry_after_and_the_documented_body() {
    let sim = start(tiny()).await;
    let api = Api::new(&sim);
    for remaining in ["2", "1", "0"] {
        let response = api.get("/credits/balance").send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "x-ratelimit-remaining"), Some(remaining));
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let refused = api.get("/credits/balance").send().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(header(&refused, "x-ratelimit-limit"), Some("3"));
    assert_eq!(header(&refused, "x-ratelimit-remaining"), Some("0"));
    let retry_after: u64 = header(&refused, "retry-after").unwrap().parse().unwrap();
    // One token at 0.001/s is 1000 s away (a little less if the test was slow).
    assert!((990..=1000).contains(&retry_after), "Retry-After {retry_after}");
    let reset: u64 = header(&refused, "x-ratelimit-reset").unwrap().parse().unwrap();
    assert!((now + 2990..=now + 3002).contains(&reset), "reset {reset}, now {now}");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "RATE_LIMIT_EXCEEDED");
    assert_eq!(body["error"]["message"], "Too many requests. Please slow down.");
    assert_eq!(body["error"]["details"]["retry_after_seconds"], retry_after);
    let stats = sim.key_stats(DEMO_KEY).unwrap();
    assert_eq!((stats.requests, stats.rate_limited), (4, 1));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_refused_write_executes_nothing() {
    let sim = start(SimConfig { burst: 1, ..tiny() }).await;
    let api = Api::new(&sim);
    api.get("/credits/balance").send().await.unwrap();
    let response = api.post("/bundles", super::support::CREATE).send().await.unwrap();
    assert_eq!(code(response).await.0, 429);
    assert!(sim.ledger().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn each_key_has_its_own_bucket() {
    let keys = vec![SimKey::full(DEMO_KEY, 10), SimKey::full("sk_other", 10)];
    let sim = start(SimConfig { keys, ..tiny() }).await;
    let (first, other) = (Api::new(&sim), Api::with_key(&sim, "sk_other"));
    for _ in 0..3 {
        first.get("/credits/balance").send().await.unwrap();
    }
    assert_eq!(first.get("/credits/balance").send().await.unwrap().status(), 429);
    let response = other.get("/credits/balance").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-ratelimit-remaining"), Some("2"));
    sim.shutdown().await;
}

#[tokio::test]
async fn with_rate_limiting_off_nothing_is_refused_and_headers_show_a_full_bucket() {
    let sim = start(SimConfig { burst: 2, ..unlimited() }).await;
    let api = Api::new(&sim);
    for _ in 0..10 {
        let response = api.get("/credits/balance").send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "x-ratelimit-limit"), Some("2"));
        assert_eq!(header(&response, "x-ratelimit-remaining"), Some("2"));
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_drained_key_gets_429s_until_the_hold_is_over_while_other_keys_do_not() {
    let keys = vec![SimKey::full(DEMO_KEY, 10), SimKey::full("sk_other", 10)];
    let sim = start(SimConfig { keys, ..SimConfig::default() }).await;
    assert!(sim.drain(DEMO_KEY, Duration::from_secs(30)));
    let api = Api::new(&sim);
    for _ in 0..5 {
        let response = api.get("/bundles").send().await.unwrap();
        assert_eq!(response.status(), 429);
        let retry_after: u64 = header(&response, "retry-after").unwrap().parse().unwrap();
        assert!((30..=31).contains(&retry_after), "Retry-After {retry_after}");
    }
    assert_eq!(Api::with_key(&sim, "sk_other").get("/bundles").send().await.unwrap().status(), 200);
    assert_eq!(sim.key_stats(DEMO_KEY).unwrap().rate_limited, 5);
    assert!(!sim.drain("sk_unknown", Duration::from_secs(1)));
    sim.shutdown().await;
}

#[tokio::test]
async fn the_details_can_disagree_with_retry_after_like_the_reference_example() {
    let sim = start(SimConfig { burst: 1, rate_per_second: 0.1, ..SimConfig::default() }).await;
    sim.update_faults(|f| f.retry_after_details_extra_secs = 1).unwrap();
    let api = Api::new(&sim);
    api.get("/credits/balance").send().await.unwrap();
    let refused = api.get("/credits/balance").send().await.unwrap();
    let retry_after: u64 = header(&refused, "retry-after").unwrap().parse().unwrap();
    let (status, _, details) = code(refused).await;
    assert_eq!(status, 429);
    assert!((9..=10).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(details["retry_after_seconds"], retry_after + 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn huge_admin_numbers_are_refused_or_capped_and_never_overflow() {
    let sim = start(tiny()).await;
    let fingerprint = SimKey::full(DEMO_KEY, 0).fingerprint();
    let http = super::support::client();
    let drain = http
        .post(super::support::admin_url(&sim, &format!("/keys/{fingerprint}/drain")))
        .body(r#"{"seconds":18446744073709551615}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(drain.status(), 400);
    let faults = http
        .patch(super::support::admin_url(&sim, "/faults"))
        .body(r#"{"retry_after_details_extra_secs":18446744073709551615}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(faults.status(), 400);
    assert!(
        sim.set_faults(tokportal_sync::sim::Faults {
            retry_after_details_extra_secs: u64::MAX,
            ..Default::default()
        })
        .is_err()
    );
    // The in-process handle caps the hold instead; the largest values accepted still answer.
    assert!(sim.drain(DEMO_KEY, Duration::MAX));
    sim.update_faults(|f| f.retry_after_details_extra_secs = 24 * 60 * 60).unwrap();
    let refused = Api::new(&sim).get("/credits/balance").send().await.unwrap();
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = header(&refused, "retry-after").unwrap().parse().unwrap();
    assert!(retry_after > 365 * 24 * 3600, "{retry_after}");
    let reset: u64 = header(&refused, "x-ratelimit-reset").unwrap().parse().unwrap();
    assert!(reset > retry_after, "{reset}");
    let (_, _, details) = code(refused).await;
    assert_eq!(details["retry_after_seconds"], retry_after + 24 * 60 * 60);
    sim.shutdown().await;
}
