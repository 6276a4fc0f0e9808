//! Every class of `ApiError`, produced by the simulator; retries of 5xx,
//! timeouts and lost connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokportal_sync::api::{ApiError, IdempotencyKey, MutationMethod};
use tokportal_sync::sim::{DEMO_KEY, SimKey};

use super::support::{budget_options, client, client_options, demo_client, scripted, sim_with};

const CREATE: &str = r#"{"bundle_type":"account_only","platform":"tiktok","country":"US"}"#;

#[tokio::test]
async fn an_unknown_key_is_unauthorized_with_its_code() {
    let sim = sim_with(10, 100.0, 100).await;
    let c = client(client_options(&sim, "sk_not_a_key"), budget_options(100.0, 100));
    let err = c.get("/bundles", &[]).await.unwrap_err();
    assert!(matches!(&err, ApiError::Unauthorized { code, .. } if code.starts_with("AUTH_")), "{err:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_missing_bundle_is_not_found() {
    let sim = sim_with(10, 100.0, 100).await;
    let err = demo_client(&sim, 100.0, 100).get("/bundles/no-such-bundle", &[]).await.unwrap_err();
    assert!(matches!(&err, ApiError::NotFound { code, .. } if code == "BUNDLE_NOT_FOUND"), "{err:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_reused_idempotency_key_is_a_conflict_with_its_code() {
    let sim = sim_with(10, 100.0, 100).await;
    let c = demo_client(&sim, 100.0, 100);
    let key = IdempotencyKey::new("job-1").unwrap();
    let created = c.mutate(MutationMethod::Post, "/bundles", &key, Some(CREATE)).await.unwrap();
    assert_eq!(created.status, 201);
    let replay = c.mutate(MutationMethod::Post, "/bundles", &key, Some(CREATE)).await.unwrap();
    assert!(replay.replayed && replay.body == created.body);
    let other = CREATE.replace("US", "FR");
    let err = c.mutate(MutationMethod::Post, "/bundles", &key, Some(&other)).await.unwrap_err();
    assert!(matches!(&err, ApiError::Conflict { code, .. } if code == "IDEMPOTENCY_KEY_REUSED"), "{err:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn other_4xx_are_fatal_and_keep_status_code_and_an_excerpt() {
    let sim = sim_with(10, 100.0, 100).await;
    let c = demo_client(&sim, 100.0, 100);
    let key = IdempotencyKey::new("job-2").unwrap();
    let err =
        c.mutate(MutationMethod::Post, "/bundles", &key, Some(r#"{"country":"nowhere"}"#)).await.unwrap_err();
    match &err {
        ApiError::Fatal { status: Some(400), code: Some(code), excerpt, .. } => {
            assert_eq!(code, "VALIDATION_ERROR");
            // The envelope's message, not the envelope; the code is said beside it.
            assert!(!excerpt.is_empty() && !excerpt.contains(r#"{"error""#), "{excerpt}");
            assert!(err.to_string().contains("HTTP 400 VALIDATION_ERROR: "), "{err}");
        }
        other => panic!("expected a fatal 400, got {other:?}"),
    }
    assert!(!err.is_retryable());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_read_only_key_writing_is_fatal_not_retried() {
    let config = tokportal_sync::sim::SimConfig {
        keys: vec![SimKey::read_only("sk_reader")],
        rate_limit: false,
        ..Default::default()
    };
    let sim = tokportal_sync::sim::start(config).await.unwrap();
    let c = client(client_options(&sim, "sk_reader"), budget_options(100.0, 100));
    let key = IdempotencyKey::new("job-3").unwrap();
    let err = c.mutate(MutationMethod::Post, "/bundles", &key, Some(CREATE)).await.unwrap_err();
    assert!(matches!(&err, ApiError::Fatal { status: Some(403), .. }), "{err:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_malformed_page_is_fatal_with_an_excerpt() {
    let sim = sim_with(10, 100.0, 100).await;
    sim.update_faults(|f| f.malformed_next = 1).unwrap();
    let c = demo_client(&sim, 100.0, 100);
    let err = c.get("/bundles", &[]).await.unwrap_err();
    assert!(
        matches!(&err, ApiError::Fatal { status: Some(200), excerpt, .. } if excerpt.contains("undecodable")),
        "{err:?}"
    );
    assert_eq!(c.counters().retries, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_get_answered_with_5xx_is_retried_until_it_succeeds() {
    let sim = sim_with(10, 100.0, 100).await;
    sim.update_faults(|f| f.fail_next = 2).unwrap();
    let c = demo_client(&sim, 100.0, 100);
    let page = c.get("/bundles", &[]).await.unwrap();
    assert_eq!(page.status, 200);
    assert_eq!((c.counters().requests, c.counters().retries), (3, 2));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_get_failing_more_than_max_retries_returns_the_retryable_error() {
    let sim = sim_with(10, 100.0, 100).await;
    sim.update_faults(|f| f.fail_next = 10).unwrap();
    let mut options = client_options(&sim, DEMO_KEY);
    options.max_retries = 1;
    let c = client(options, budget_options(100.0, 100));
    let err = c.get("/bundles", &[]).await.unwrap_err();
    assert!(matches!(&err, ApiError::Retryable { status: Some(503), .. }), "{err:?}");
    assert_eq!(sim.key_stats(DEMO_KEY).unwrap().requests, 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_get_that_times_out_is_retried() {
    let sim = sim_with(10, 100.0, 100).await;
    sim.update_faults(|f| {
        f.stall_next = 1;
        f.stall_ms = 10_000;
    })
    .unwrap();
    let mut options = client_options(&sim, DEMO_KEY);
    options.timeout = Duration::from_millis(300);
    let c = client(options, budget_options(100.0, 100));
    assert_eq!(c.get("/bundles", &[]).await.unwrap().status, 200);
    assert_eq!(c.counters().retries, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_timeout_and_a_dropped_connection_are_retryable_errors() {
    let sim = sim_with(10, 100.0, 100).await;
    let mut options = client_options(&sim, DEMO_KEY);
    options.timeout = Duration::from_millis(300);
    options.max_retries = 0;
    let c = client(options, budget_options(100.0, 100));
    sim.update_faults(|f| {
        f.stall_next = 1;
        f.stall_ms = 10_000;
    })
    .unwrap();
    let err = c.get("/bundles", &[]).await.unwrap_err();
    assert!(
        matches!(&err, ApiError::Retryable { status: None, reason, .. } if reason.contains("timed out")),
        "{err:?}"
    );
    sim.update_faults(|f| f.drop_next = 1).unwrap();
    let err = c.get("/bundles", &[]).await.unwrap_err();
    assert!(matches!(&err, ApiError::Retryable { status: None, .. }), "{err:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_mutation_failing_with_5xx_is_not_retried_by_the_client() {
    let sim = sim_with(10, 100.0, 100).await;
    sim.update_faults(|f| f.fail_next = 1).unwrap();
    let c = demo_client(&sim, 100.0, 100);
    let key = IdempotencyKey::new("job-4").unwrap();
    let err = c.mutate(MutationMethod::Post, "/bundles", &key, Some(CREATE)).await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert_eq!(c.counters().requests, 1);
    sim.shutdown().await;
}

#[test]
fn an_idempotency_key_must_be_1_to_255_visible_characters() {
    assert!(IdempotencyKey::new("").is_err());
    assert!(IdempotencyKey::new("a".repeat(256)).is_err());
    assert!(IdempotencyKey::new("has space").is_err());
    assert!(IdempotencyKey::new("a".repeat(255)).is_ok());
}

/// A server answering its first GET with 503 and `Retry-After: <retry_after()>`,
/// then 200; and how many GETs it received.
async fn unavailable_once(
    retry_after: fn() -> String,
) -> (tokportal_sync::api::ClientOptions, tokio::task::JoinHandle<std::io::Result<()>>, Arc<AtomicU32>) {
    use axum::http::{HeaderMap, StatusCode};

    let calls = Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    let app = axum::Router::new().route(
        "/bundles",
        axum::routing::get(move || {
            let seen = seen.clone();
            async move {
                let mut headers = HeaderMap::new();
                if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                    headers.insert("retry-after", retry_after().parse().unwrap());
                    return (StatusCode::SERVICE_UNAVAILABLE, headers, "busy");
                }
                (StatusCode::OK, headers, r#"{"data":[]}"#)
            }
        }),
    );
    let (options, server) = scripted(app).await;
    (options, server, calls)
}

// The simulator sends no Retry-After with its 5xx: a scripted server does.
// Only lower bounds on time: the backoff alone would retry within 0.5 s.

#[tokio::test]
async fn a_503_retry_waits_at_least_the_servers_retry_after_in_seconds() {
    let (options, server, calls) = unavailable_once(|| "2".into()).await;
    let c = client(options, budget_options(100.0, 100));
    let start = std::time::Instant::now();
    assert_eq!(c.get("/bundles", &[]).await.unwrap().status, 200);
    assert!(start.elapsed() >= Duration::from_secs(2), "{:?}", start.elapsed());
    assert_eq!((calls.load(Ordering::SeqCst), c.counters().retries), (2, 1));
    server.abort();
}

#[tokio::test]
async fn a_503_retry_waits_until_the_servers_retry_after_date() {
    // Two whole seconds after the server's current second: at least one
    // second after the request left, whatever the fraction of a second.
    let (options, server, calls) = unavailable_once(|| {
        let at = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() + 2, 0).unwrap();
        at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
    })
    .await;
    let c = client(options, budget_options(100.0, 100));
    let start = std::time::Instant::now();
    assert_eq!(c.get("/bundles", &[]).await.unwrap().status, 200);
    assert!(start.elapsed() >= Duration::from_secs(1), "{:?}", start.elapsed());
    assert_eq!((calls.load(Ordering::SeqCst), c.counters().retries), (2, 1));
    server.abort();
}

#[tokio::test]
async fn a_503_asking_for_longer_than_max_wait_is_returned_at_once_not_retried_early() {
    let (options, server, calls) = unavailable_once(|| "3600".into()).await;
    let c = client(options, budget_options(100.0, 100));
    let err = c.get("/bundles", &[]).await.unwrap_err();
    assert!(
        matches!(&err, ApiError::Retryable { status: Some(503), retry_after: Some(asked), .. }
            if *asked == Duration::from_secs(3600)),
        "{err:?}"
    );
    assert_eq!((calls.load(Ordering::SeqCst), c.counters().retries), (1, 0));
    server.abort();
}
