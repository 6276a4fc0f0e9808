//! `Retry-After` as seconds or as an HTTP date (RFC 9110 allows both), on 429s
//! and on injected 5xx answers.

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::DateTime;
use tokportal_sync::sim::{Faults, ListOrder, RetryAfterFormat, SimConfig};

use super::support::{Api, code, header, start, unlimited};

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The unix second an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) names.
fn http_date(value: &str) -> u64 {
    assert!(value.ends_with(" GMT") && value.len() == 29, "not an IMF-fixdate: {value:?}");
    DateTime::parse_from_rfc2822(value).unwrap().timestamp() as u64
}

#[tokio::test]
async fn an_injected_503_carries_retry_after_only_when_asked_in_seconds_or_as_an_http_date() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    sim.update_faults(|f| f.fail_next = 1).unwrap();
    let plain = api.get("/bundles").send().await.unwrap();
    assert_eq!((plain.status().as_u16(), header(&plain, "retry-after")), (503, None));
    sim.update_faults(|f| {
        f.fail_next = 2;
        f.fail_retry_after_secs = Some(7);
    })
    .unwrap();
    let seconds = api.get("/bundles").send().await.unwrap();
    assert_eq!((seconds.status().as_u16(), header(&seconds, "retry-after")), (503, Some("7")));
    sim.update_faults(|f| f.fail_retry_after_format = RetryAfterFormat::HttpDate).unwrap();
    let before = unix_now();
    let dated = api.get("/bundles").send().await.unwrap();
    let after = unix_now();
    assert_eq!(dated.status(), 503);
    let at = http_date(header(&dated, "retry-after").unwrap());
    // now + 7 s rounded up: never earlier than the delay asked for.
    assert!((before + 7..=after + 8).contains(&at), "{at} not 7 s after {before}..{after}");
    let (_, code, details) = code(dated).await;
    assert_eq!((code.as_str(), details["simulated"].as_bool()), ("INTERNAL_ERROR", Some(true)));
    assert_eq!(api.get("/bundles").send().await.unwrap().status(), 200, "fail_next is used up");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_429_writes_retry_after_as_an_http_date_when_asked_and_the_details_stay_seconds() {
    let config = SimConfig { burst: 1, rate_per_second: 0.001, ..SimConfig::default() };
    let sim = start(config).await;
    sim.update_faults(|f| f.retry_after_format = RetryAfterFormat::HttpDate).unwrap();
    let api = Api::new(&sim);
    assert_eq!(api.get("/credits/balance").send().await.unwrap().status(), 200);
    let before = unix_now();
    let refused = api.get("/credits/balance").send().await.unwrap();
    let after = unix_now();
    assert_eq!(refused.status(), 429);
    assert_eq!(header(&refused, "x-ratelimit-limit"), Some("1"), "the configured burst");
    let at = http_date(header(&refused, "retry-after").unwrap());
    let (_, code, details) = code(refused).await;
    assert_eq!(code, "RATE_LIMIT_EXCEEDED");
    let seconds = details["retry_after_seconds"].as_u64().unwrap();
    assert!((990..=1000).contains(&seconds), "{seconds}");
    assert!((before + seconds..=after + seconds + 1).contains(&at), "{at} vs {before}..{after} + {seconds}");
    sim.shutdown().await;
}

#[test]
fn the_new_knobs_read_from_faults_json_and_are_validated() {
    let json = r#"{"order":"created_at_unstable","fail_next":1,"fail_retry_after_secs":3,
        "fail_retry_after_format":"http_date","retry_after_format":"http_date"}"#;
    let faults: Faults = serde_json::from_str(json).unwrap();
    assert_eq!(faults.order, ListOrder::CreatedAtUnstable);
    assert_eq!(faults.fail_retry_after_secs, Some(3));
    assert_eq!(faults.fail_retry_after_format, RetryAfterFormat::HttpDate);
    assert_eq!(faults.retry_after_format, RetryAfterFormat::HttpDate);
    assert!(faults.validate().is_ok());
    let too_long = Faults { fail_retry_after_secs: Some(86_401), ..Faults::default() };
    assert!(too_long.validate().unwrap_err().contains("fail_retry_after_secs"));
    let defaults = Faults::default();
    assert_eq!(
        (defaults.order, defaults.retry_after_format, defaults.fail_retry_after_secs),
        (ListOrder::NewestFirst, RetryAfterFormat::Seconds, None)
    );
}
