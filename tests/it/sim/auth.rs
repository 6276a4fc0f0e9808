//! Keys, scopes and the headers every answer carries.

use std::time::{SystemTime, UNIX_EPOCH};

use tokportal_sync::sim::{DEMO_KEY, SimConfig, SimKey};

use super::support::{Api, CREATE, client, code, header, start, unlimited};

#[tokio::test]
async fn a_request_without_a_key_is_refused_with_auth_missing_key() {
    let sim = start(SimConfig::default()).await;
    let response = client().get(format!("{}/bundles", sim.base_url())).send().await.unwrap();
    assert_eq!(header(&response, "x-tokportal-api-version"), Some("2026-05-25"));
    assert!(header(&response, "x-tokportal-request-id").unwrap().starts_with("req_"));
    assert_eq!(header(&response, "x-ratelimit-limit"), None, "unauthenticated answers carry no budget");
    let (status, code, _) = code(response).await;
    assert_eq!((status, code.as_str()), (401, "AUTH_MISSING_KEY"));
    sim.shutdown().await;
}

#[tokio::test]
async fn an_unknown_key_is_refused_with_auth_invalid_key() {
    let sim = start(SimConfig::default()).await;
    let response = Api::with_key(&sim, "sk_nope").get("/bundles").send().await.unwrap();
    let (status, code, _) = code(response).await;
    assert_eq!((status, code.as_str()), (401, "AUTH_INVALID_KEY"));
    assert_eq!(sim.stats().keys[0].requests, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn every_authenticated_answer_carries_budget_version_and_request_ids() {
    let sim = start(SimConfig::default()).await;
    let api = Api::new(&sim);
    let clock = || SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
    let before = clock();
    let first = api.get("/bundles").header("X-Request-ID", "trace-42").send().await.unwrap();
    let second = api.get("/credits/balance").send().await.unwrap();
    let after = clock();
    assert_eq!(header(&first, "x-ratelimit-limit"), Some("120"));
    assert_eq!(header(&first, "x-ratelimit-remaining"), Some("119"));
    assert_eq!(header(&second, "x-ratelimit-remaining"), Some("118"));
    let reset: u64 = header(&second, "x-ratelimit-reset").unwrap().parse().unwrap();
    // Two tokens short at 2/s: full again one second after the first request was
    // served, so at a moment in [before + 1, after + 1], and Reset is that rounded up.
    let (earliest, latest) = ((before + 1.0).ceil() as u64, (after + 1.0).ceil() as u64);
    assert!((earliest..=latest).contains(&reset), "reset {reset} vs {earliest}..={latest}");
    assert_eq!(header(&first, "x-request-id"), Some("trace-42"));
    assert_eq!(header(&second, "x-request-id"), None);
    assert_eq!(header(&first, "x-tokportal-api-version"), Some("2026-05-25"));
    let (a, b) = (
        header(&first, "x-tokportal-request-id").unwrap(),
        header(&second, "x-tokportal-request-id").unwrap(),
    );
    assert!(a.starts_with("req_") && b.starts_with("req_") && a != b);
    let long = "x".repeat(129);
    let refused = api.get("/credits/balance").header("X-Request-ID", &long).send().await.unwrap();
    assert_eq!(header(&refused, "x-request-id"), None, "over 128 characters is not echoed");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_read_only_key_can_read_but_every_write_is_forbidden() {
    let config =
        SimConfig { keys: vec![SimKey::full(DEMO_KEY, 100), SimKey::read_only("sk_reader")], ..unlimited() };
    let sim = start(config).await;
    let reader = Api::with_key(&sim, "sk_reader");
    assert_eq!(reader.get("/bundles").send().await.unwrap().status(), 200);
    let refused = reader.post("/bundles", CREATE).send().await.unwrap();
    assert_eq!(header(&refused, "x-ratelimit-limit"), Some("120"), "a refused write is still authenticated");
    let (status, code, details) = code(refused).await;
    assert_eq!((status, code.as_str()), (403, "AUTH_INSUFFICIENT_SCOPE"));
    assert_eq!(details["key_scope"], "read");
    assert!(sim.ledger().is_empty(), "nothing executed");
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_answer_the_error_envelope() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let (status, code, _) = code(api.get("/nothing-here").send().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (404, "NOT_FOUND"));
    sim.shutdown().await;
}

#[test]
fn keys_parse_from_the_keys_flag_syntax_and_debug_shows_only_a_fingerprint() {
    let key: SimKey = "sk_a:500".parse().unwrap();
    assert_eq!((key.key.as_str(), key.credits, key.read_only), ("sk_a", 500, false));
    let reader: SimKey = "sk_b:0:read".parse().unwrap();
    assert!(reader.read_only);
    let plain: SimKey = "sk_c".parse().unwrap();
    assert_eq!(plain.credits, tokportal_sync::sim::DEMO_CREDITS);
    let shared: SimKey = "sk_g:1:read:acct_1".parse().unwrap();
    assert_eq!(shared.account_id(), "acct_1");
    for bad in ["", "sk_d:lots", "sk_e:1:admin", "sk_f:1:read:acct:extra"] {
        assert!(bad.parse::<SimKey>().is_err(), "{bad:?}");
    }
    let shown = format!("{key:?}");
    assert!(!shown.contains("sk_a") && shown.contains(&key.fingerprint()), "{shown}");
}

#[tokio::test]
async fn a_key_with_non_ascii_bytes_is_invalid_not_missing() {
    let sim = start(SimConfig::default()).await;
    for raw in [&b"sk_\xc3\xa9t\xc3\xa9"[..], &b"\xff"[..]] {
        let value = reqwest::header::HeaderValue::from_bytes(raw).unwrap();
        let response = client()
            .get(format!("{}/bundles", sim.base_url()))
            .header("X-API-Key", value)
            .send()
            .await
            .unwrap();
        let (status, code, _) = code(response).await;
        assert_eq!((status, code.as_str()), (401, "AUTH_INVALID_KEY"), "{raw:?}");
    }
    assert_eq!(sim.stats().keys[0].requests, 0);
    sim.shutdown().await;
}
