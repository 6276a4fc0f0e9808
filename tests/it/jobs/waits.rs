//! How long a job waits before its next send: a server's absurd `Retry-After`
//! is clamped to what Postgres can store, a key still in progress backs off
//! doubling, and a send the budget refused leaves no first send behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tokportal_sync::api::BudgetOptions;
use tokportal_sync::jobs::queue;
use tokportal_sync::jobs::{Outcome, Replayer, drain};
use tokportal_sync::sim::DEMO_KEY;

use super::support::*;
use crate::api_support::{budget_options, client, scripted};

fn absurd() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("retry-after", "1e300".parse().expect("a header value"));
    headers.insert("content-type", "application/json".parse().expect("a header value"));
    headers
}

/// A server answering `POST /bundles` 503 and `POST /bundles/bulk` 429, both
/// with `Retry-After: 1e300` (and `retry_after_seconds` as large), and
/// `POST /bundles/b-1/publish` 200.
async fn absurd_server(pool: &PgPool) -> (Replayer, tokio::task::JoinHandle<std::io::Result<()>>) {
    let envelope = |code: &str| {
        format!(
            r#"{{"success":false,"error":{{"code":"{code}","message":"later","details":{{"retry_after_seconds":1e300}}}}}}"#
        )
    };
    let busy = envelope("SERVICE_UNAVAILABLE");
    let limited = envelope("RATE_LIMIT_EXCEEDED");
    let app = axum::Router::new()
        .route("/bundles", post(move || async move { (StatusCode::SERVICE_UNAVAILABLE, absurd(), busy) }))
        .route(
            "/bundles/bulk",
            post(move || async move { (StatusCode::TOO_MANY_REQUESTS, absurd(), limited) }),
        )
        .route(
            "/bundles/b-1/publish",
            post(|| async { (StatusCode::OK, absurd(), r#"{"success":true,"data":{"id":"b-1"}}"#) }),
        );
    let (options, server) = scripted(app).await;
    let budget = BudgetOptions { max_wait: Duration::from_millis(200), ..budget_options(10_000.0, 10_000) };
    let r = Replayer {
        owner: Owner::new(pool),
        pool: pool.clone(),
        client: client(options, budget),
        settings: settings(),
    };
    (r, server)
}

#[sqlx::test]
async fn a_503_with_an_absurd_retry_after_is_recorded_clamped_and_the_drain_goes_on(pool: PgPool) {
    let (r, server) = absurd_server(&pool).await;
    let busy = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    let fine = enqueue(&pool, "POST", "/bundles/b-1/publish", None).await;
    let report =
        drain(&r, 1, &CancellationToken::new()).await.expect("the drain records the 503 and goes on");
    assert_eq!((report.retrying, report.succeeded), (1, 1), "{report:?}");
    let waiting = job(&pool, busy.id).await;
    assert_eq!((waiting.status.as_str(), waiting.locked_until), ("queued", None));
    let due = due_in_secs(&pool, busy.id).await;
    let longest = r.settings.longest_wait().as_secs_f64();
    assert!(due > 3000.0 && due <= longest + 1.0, "clamped to the key's lifetime: due in {due}");
    assert_eq!(job(&pool, fine.id).await.status, "succeeded");
    server.abort();
}

#[sqlx::test]
async fn a_429_with_an_absurd_retry_after_is_recorded_clamped(pool: PgPool) {
    let (r, server) = absurd_server(&pool).await;
    let limited = enqueue(&pool, "POST", "/bundles/bulk", Some("{}")).await;
    let outcome = tokportal_sync::jobs::run_next_job(&r).await.expect("the 429 is recorded");
    assert!(matches!(outcome, Some(Outcome::Retrying { counted: false, .. })), "{outcome:?}");
    let waiting = job(&pool, limited.id).await;
    assert_eq!((waiting.status.as_str(), waiting.attempts), ("queued", 0));
    let due = due_in_secs(&pool, limited.id).await;
    assert!(due <= r.settings.longest_wait().as_secs_f64() + 1.0, "due in {due}");
    server.abort();
}

#[sqlx::test]
async fn a_key_in_progress_is_retried_after_waits_doubling_to_a_cap(pool: PgPool) {
    let sim = sim().await;
    let r = replayer_with(&pool, &sim, DEMO_KEY, Duration::from_millis(300));
    let j = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    sim.update_faults(|f| f.slow_ms = 600_000).unwrap();
    // The first send times out while the API is still executing it…
    assert!(matches!(step(&r).await, Outcome::Retrying { counted: true, .. }));
    // …so each later one is told the key is in progress, and waits longer.
    let mut waits = Vec::new();
    for _ in 0..8 {
        make_due(&pool, j.id).await;
        assert!(matches!(step(&r).await, Outcome::Retrying { counted: false, .. }));
        waits.push(due_in_secs(&pool, j.id).await.round() as i64);
    }
    assert_eq!(
        waits,
        vec![5, 10, 20, 40, 80, 160, 300, 300],
        "from in_progress_delay, doubling to 5 minutes"
    );
    assert_eq!(job(&pool, j.id).await.attempts, 1, "an answer in progress is not a failed attempt");
    sim.update_faults(|f| f.slow_ms = 0).unwrap();
    sim.release_slow();
    make_due(&pool, j.id).await;
    assert!(matches!(step(&r).await, Outcome::Succeeded { replayed: true, .. }));
    assert_eq!(executions(&sim, &j.idempotency_key), 1);
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_job_the_budget_refused_unsent_has_no_first_send_and_stays_cancellable(pool: PgPool) {
    let sent = Arc::new(AtomicU32::new(0));
    let seen = sent.clone();
    let app = axum::Router::new().route(
        "/bundles",
        post(move || {
            seen.fetch_add(1, Ordering::SeqCst);
            async { (StatusCode::CREATED, r#"{"success":true,"data":{"id":"b-9"}}"#) }
        }),
    );
    let (options, server) = scripted(app).await;
    // One request, then one every 100 s, and no waiting for it.
    let budget = BudgetOptions { max_wait: Duration::from_millis(50), ..budget_options(0.01, 1) };
    let r = Replayer {
        owner: Owner::new(&pool),
        pool: pool.clone(),
        client: client(options, budget),
        settings: settings(),
    };
    let first = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    let second = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    assert!(matches!(step(&r).await, Outcome::Succeeded { .. }));
    assert!(job(&pool, first.id).await.first_sent_at.is_some(), "a real send sets it");
    let refused = step(&r).await;
    assert!(matches!(refused, Outcome::Retrying { counted: false, .. }), "{refused:?}");
    assert_eq!(sent.load(Ordering::SeqCst), 1, "the budget refused the second send");
    let refused = job(&pool, second.id).await;
    assert_eq!((refused.status.as_str(), refused.first_sent_at), ("queued", None), "never sent");
    let cancelled =
        queue::cancel(&pool, second.id).await.unwrap().expect("a job never sent can be cancelled");
    assert_eq!(cancelled.status, "cancelled");
    server.abort();
}
