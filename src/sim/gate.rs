//! The middleware every API request passes: request ids, auth, the key's
//! bucket and rate-limit headers, read scope and injected faults; mutations
//! continue in [`super::execute`].

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::bucket::{Decision, Snapshot};
use super::error::ApiError;
use super::execute;
use super::extensions::ConnKill;
use super::faults::After;
use super::inject::inject_failure;
use super::lock::lock;
use super::retry_after::{now, reset_at, retry_after};
use super::rng::Rng;
use super::state::{KeyState, Shared};

/// `X-TokPortal-API-Version` of every answer.
pub const API_VERSION: &str = "2026-05-25";

/// The middleware: ids on every answer, then the authenticated part.
pub async fn gate(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    super::churn::catch_up(&shared);
    super::account_churn::catch_up(&shared);
    let n = shared.request_ids.fetch_add(1, Ordering::Relaxed);
    let request_id = format!("req_{:016x}{:08x}", Rng::new(shared.config.seed ^ n).next_u64(), n as u32);
    let echo = req
        .headers()
        .get("x-request-id")
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.as_bytes().iter().all(|b| (0x20..0x7f).contains(b)))
        .cloned();
    let latency = {
        let faults = lock(&shared.faults);
        let jitter = match faults.latency_jitter_ms {
            0 => 0,
            j => Rng::new(shared.config.seed ^ n ^ 0x1a7e_c1e5).below(j + 1),
        };
        Duration::from_millis(faults.latency_ms.saturating_add(jitter))
    };
    tokio::time::sleep(latency / 2).await;
    let mut response = authenticate(&shared, req, next).await;
    tokio::time::sleep(latency - latency / 2).await;
    let headers = response.headers_mut();
    headers.insert("x-tokportal-api-version", HeaderValue::from_static(API_VERSION));
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert("x-tokportal-request-id", value);
    }
    if let Some(echo) = echo {
        headers.insert("x-request-id", echo);
    }
    response
}

async fn authenticate(shared: &Arc<Shared>, req: Request, next: Next) -> Response {
    let presented = req.headers().get("x-api-key");
    // A key with bytes outside visible ASCII was sent, so it is invalid, not missing.
    let refuse = |code: &'static str, message: &'static str| {
        shared.refused.fetch_add(1, Ordering::Relaxed);
        ApiError::new(StatusCode::UNAUTHORIZED, code, message).into_response()
    };
    let key = match presented.map(|v| v.to_str()) {
        None | Some(Ok("")) => {
            return refuse("AUTH_MISSING_KEY", "Missing X-API-Key header.");
        }
        Some(Ok(presented))
            if shared.keys.get(presented).is_some_and(|k| k.revoked.load(Ordering::Relaxed)) =>
        {
            return refuse("AUTH_REVOKED_KEY", "This API key was revoked.");
        }
        Some(Ok(presented)) if shared.keys.contains_key(presented) => Arc::clone(&shared.keys[presented]),
        Some(_) => {
            return refuse("AUTH_INVALID_KEY", "Invalid API key.");
        }
    };
    lock(&key.counters).requests += 1;
    let decision = if shared.config.rate_limit {
        lock(&key.bucket).try_take(Instant::now())
    } else {
        let burst = shared.config.burst;
        Decision::Allowed(Snapshot { limit: burst, remaining: burst, full_in: Duration::ZERO })
    };
    let mut response = match decision {
        Decision::Allowed(_) => authorise(shared, &key, req, next).await,
        Decision::Limited { retry_after_secs, .. } => {
            lock(&key.counters).rate_limited += 1;
            let (extra, format) = {
                let faults = lock(&shared.faults);
                (faults.retry_after_details_extra_secs, faults.retry_after_format)
            };
            let in_details = retry_after_secs.saturating_add(extra);
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMIT_EXCEEDED",
                "Too many requests. Please slow down.",
            )
            .with_details(json!({ "retry_after_seconds": in_details }))
            .into_response();
            response.headers_mut().insert(header::RETRY_AFTER, retry_after(retry_after_secs, format, now()));
            response
        }
    };
    let snapshot = match decision {
        Decision::Allowed(s) | Decision::Limited { snapshot: s, .. } => s,
    };
    rate_headers(response.headers_mut(), snapshot);
    response
}

fn rate_headers(headers: &mut HeaderMap, snapshot: Snapshot) {
    headers.insert("x-ratelimit-limit", HeaderValue::from(snapshot.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(snapshot.remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(reset_at(now(), snapshot.full_in)));
}

async fn authorise(shared: &Arc<Shared>, key: &Arc<KeyState>, mut req: Request, next: Next) -> Response {
    let is_write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if is_write && key.read_only {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "AUTH_INSUFFICIENT_SCOPE",
            "This API key is read-only; writes need a key with the `write` or `*` scope.",
        )
        .with_details(json!({ "required_scope": "write", "key_scope": "read" }))
        .into_response();
    }
    let kill = req.extensions_mut().remove::<ConnKill>();
    req.extensions_mut().insert(Arc::clone(key));
    let response = if is_write {
        match execute::mutate(shared, key, req, next).await {
            Ok(response) => response,
            Err(response) => return response,
        }
    } else {
        if let Some(failure) = inject_failure(shared, false) {
            return failure;
        }
        next.run(req).await
    };
    let after = {
        let mut rng = lock(&shared.fault_rng);
        lock(&shared.faults).take_after(is_write, &mut rng)
    };
    match after {
        After::Answer => response,
        After::Stall(duration) => {
            lock(&shared.fired).stalled += 1;
            tokio::select! {
                () = tokio::time::sleep(duration) => {}
                () = shared.shutdown.cancelled() => {}
            }
            response
        }
        After::Drop => {
            lock(&shared.fired).dropped += 1;
            match kill {
                Some(kill) => {
                    kill.0.cancel();
                    // The connection task drops this future with the socket.
                    std::future::pending::<Response>().await
                }
                None => StatusCode::BAD_GATEWAY.into_response(),
            }
        }
    }
}
