//! The middleware every API request passes: request ids, auth, the key's
//! bucket and rate-limit headers, read scope and injected faults; mutations
//! continue in [`super::execute`].

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::bucket::{Decision, Snapshot};
use super::error::ApiError;
use super::execute;
use super::faults::{After, RetryAfterFormat};
use super::lock::lock;
use super::rng::Rng;
use super::server::ConnKill;
use super::state::{KeyState, Shared};

/// `X-TokPortal-API-Version` of every answer.
pub const API_VERSION: &str = "2026-05-25";

/// Set by mutation handlers on their response: credits the execution debited.
#[derive(Debug, Clone, Copy)]
pub struct Debited(pub i64);

/// Set on the router's own 404/405 (no endpoint matched): a write answered so
/// executed nothing, so it gets no ledger entry and nothing is stored.
#[derive(Debug, Clone, Copy)]
pub struct Unrouted;

/// The middleware: ids on every answer, then the authenticated part.
pub async fn gate(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let n = shared.request_ids.fetch_add(1, Ordering::Relaxed);
    let request_id = format!("req_{:016x}{:08x}", Rng::new(shared.config.seed ^ n).next_u64(), n as u32);
    let echo = req
        .headers()
        .get("x-request-id")
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.as_bytes().iter().all(|b| (0x20..0x7f).contains(b)))
        .cloned();
    let mut response = authenticate(&shared, req, next).await;
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
    let key = match presented.map(|v| v.to_str()) {
        None | Some(Ok("")) => {
            return ApiError::new(StatusCode::UNAUTHORIZED, "AUTH_MISSING_KEY", "Missing X-API-Key header.")
                .into_response();
        }
        Some(Ok(presented))
            if shared.keys.get(presented).is_some_and(|k| k.revoked.load(Ordering::Relaxed)) =>
        {
            return ApiError::new(StatusCode::UNAUTHORIZED, "AUTH_REVOKED_KEY", "This API key was revoked.")
                .into_response();
        }
        Some(Ok(presented)) if shared.keys.contains_key(presented) => Arc::clone(&shared.keys[presented]),
        Some(_) => {
            return ApiError::new(StatusCode::UNAUTHORIZED, "AUTH_INVALID_KEY", "Invalid API key.")
                .into_response();
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

fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

fn rate_headers(headers: &mut HeaderMap, snapshot: Snapshot) {
    headers.insert("x-ratelimit-limit", HeaderValue::from(snapshot.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(snapshot.remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(reset_at(now(), snapshot.full_in)));
}

/// A `Retry-After` of `secs` seconds from `now_since_epoch`: the number, or
/// the instant as an IMF-fixdate rounded up to the second (never early).
pub fn retry_after(secs: u64, format: RetryAfterFormat, now_since_epoch: Duration) -> HeaderValue {
    match format {
        RetryAfterFormat::Seconds => HeaderValue::from(secs),
        RetryAfterFormat::HttpDate => {
            let at = reset_at(now_since_epoch, Duration::from_secs(secs));
            let date = i64::try_from(at).ok().and_then(|at| chrono::DateTime::from_timestamp(at, 0));
            match date {
                Some(date) => HeaderValue::from_str(&date.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
                    .unwrap_or_else(|_| HeaderValue::from(secs)),
                None => HeaderValue::from(secs),
            }
        }
    }
}

/// `X-RateLimit-Reset`: the unix second at which the bucket is full, rounded up
/// as a whole (`ceil(now + full_in)`), never before the bucket really is full.
/// Rounding the two parts separately (`floor(now) + ceil(full_in)`) could be a
/// second early.
pub fn reset_at(now_since_epoch: Duration, full_in: Duration) -> u64 {
    let full_at = now_since_epoch.saturating_add(full_in);
    full_at.as_secs().saturating_add(u64::from(full_at.subsec_nanos() > 0))
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

pub fn inject_failure(shared: &Shared, is_write: bool) -> Option<Response> {
    if lock(&shared.faults).take_pricing_changed(is_write) {
        return Some(
            ApiError::new(
                StatusCode::CONFLICT,
                "BUNDLE_PRICING_CHANGED",
                "Pricing changed since this request was prepared; refetch and retry with a new idempotency key.",
            )
            .into_response(),
        );
    }
    let (status, retry) = {
        let mut rng = lock(&shared.fault_rng);
        let mut faults = lock(&shared.faults);
        let status = faults.take_fail(is_write, &mut rng)?;
        (status, faults.fail_retry_after_secs.map(|secs| (secs, faults.fail_retry_after_format)))
    };
    lock(&shared.fired).failed += 1;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut response = ApiError::new(status, "INTERNAL_ERROR", "Injected failure: nothing was executed.")
        .with_details(json!({ "simulated": true }))
        .into_response();
    if let Some((secs, format)) = retry {
        response.headers_mut().insert(header::RETRY_AFTER, retry_after(secs, format, now()));
    }
    Some(response)
}
