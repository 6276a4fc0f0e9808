//! The middleware every API request passes: request ids, auth, the key's
//! bucket and rate-limit headers, read scope, injected faults, and idempotency
//! around the execution of mutations.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;

use super::bucket::{Decision, Snapshot};
use super::error::ApiError;
use super::faults::After;
use super::idempotency::{Begin, MAX_KEY_LEN, Stored, request_hash};
use super::ledger::{LedgerEntry, body_sha256};
use super::rng::Rng;
use super::server::ConnKill;
use super::state::{KeyState, Shared, lock};

pub const API_VERSION: &str = "2026-05-25";
/// Mutation bodies are small JSON documents; anything bigger is a client bug.
const MAX_BODY_BYTES: usize = 1 << 20;

/// Set by mutation handlers on their response: credits the execution debited.
#[derive(Debug, Clone, Copy)]
pub struct Debited(pub i64);

/// The operations whose answers carry secrets, so the API refuses idempotency keys on them.
fn is_sensitive(method: &Method, path: &str) -> bool {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    *method == Method::POST
        && matches!(
            segments.as_slice(),
            ["accounts", _, "verification-code"]
                | ["accounts", _, "reveal-credentials"]
                | ["webhooks"]
                | ["upload", "video"]
                | ["upload", "image"]
                | ["analytics", "export", "reports"]
        )
}

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
    let presented = req.headers().get("x-api-key").map(|v| v.to_str().unwrap_or_default());
    let key = match presented {
        None | Some("") => {
            return ApiError::new(StatusCode::UNAUTHORIZED, "AUTH_MISSING_KEY", "Missing X-API-Key header.")
                .into_response();
        }
        Some(presented) => match shared.keys.get(presented) {
            Some(key) => Arc::clone(key),
            None => {
                return ApiError::new(StatusCode::UNAUTHORIZED, "AUTH_INVALID_KEY", "Invalid API key.")
                    .into_response();
            }
        },
    };
    lock(&key.counters).requests += 1;
    let decision = if shared.config.rate_limit {
        lock(&key.bucket).try_take(Instant::now())
    } else {
        let burst = shared.config.burst;
        Decision::Allowed(Snapshot { limit: burst, remaining: burst, full_in_secs: 0 })
    };
    let mut response = match decision {
        Decision::Allowed(_) => authorise(shared, &key, req, next).await,
        Decision::Limited { retry_after_secs, .. } => {
            lock(&key.counters).rate_limited += 1;
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMIT_EXCEEDED",
                "Too many requests. Please slow down.",
            )
            .with_details(json!({ "retry_after_seconds": retry_after_secs }))
            .into_response();
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
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
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    headers.insert("x-ratelimit-limit", HeaderValue::from(snapshot.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(snapshot.remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(now + snapshot.full_in_secs));
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
        match mutate(shared, key, req, next).await {
            Ok(response) => response,
            Err(response) => return response,
        }
    } else {
        if let Some(failure) = inject_failure(shared, false) {
            return failure;
        }
        next.run(req).await
    };
    let after = lock(&shared.faults).take_after(is_write);
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

fn inject_failure(shared: &Shared, is_write: bool) -> Option<Response> {
    let status = {
        let mut rng = lock(&shared.fault_rng);
        lock(&shared.faults).take_fail(is_write, &mut rng)?
    };
    lock(&shared.fired).failed += 1;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    Some(
        ApiError::new(status, "INTERNAL_ERROR", "Injected failure: nothing was executed.")
            .with_details(json!({ "simulated": true }))
            .into_response(),
    )
}

/// Idempotency checks, then the execution (in its own task so a client that
/// disconnects cannot cancel it halfway), the ledger entry and the stored answer.
/// `Err` is an answer given without executing anything.
async fn mutate(
    shared: &Arc<Shared>,
    key: &Arc<KeyState>,
    req: Request,
    next: Next,
) -> Result<Response, Response> {
    let idempotency_key = match req.headers().get("idempotency-key") {
        None => None,
        Some(value) => match value.to_str() {
            Ok("") | Err(_) => {
                return Err(ApiError::validation("Idempotency-Key", "must be non-empty visible ASCII")
                    .into_response());
            }
            Ok(k) if k.len() > MAX_KEY_LEN => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "IDEMPOTENCY_KEY_TOO_LONG",
                    "Idempotency-Key is longer than 255 characters.",
                )
                .with_details(json!({ "max_length": MAX_KEY_LEN, "length": k.len() }))
                .into_response());
            }
            Ok(k) => Some(k.to_string()),
        },
    };
    let method = req.method().clone();
    let path = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    if idempotency_key.is_some() && is_sensitive(&method, req.uri().path()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "IDEMPOTENCY_KEY_NOT_ALLOWED_FOR_SENSITIVE_RESPONSE",
            "This operation returns secrets and cannot be made idempotent; send it without Idempotency-Key.",
        )
        .into_response());
    }
    let (parts, body) = req.into_parts();
    let body = to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "Request body over 1 MiB.")
            .into_response()
    })?;
    if let Some(failure) = inject_failure(shared, true) {
        return Err(failure);
    }
    if let Some(idem) = &idempotency_key {
        let hash = request_hash(method.as_str(), &path, &body);
        let begin = lock(&key.idempotency).begin(idem, hash, Instant::now(), shared.config.idempotency_ttl);
        match begin {
            Begin::Execute => {}
            Begin::Replay(stored) => {
                lock(&key.counters).replays += 1;
                return Ok(replayed(stored));
            }
            Begin::InProgress => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "IDEMPOTENCY_KEY_IN_PROGRESS",
                    "A request with this Idempotency-Key is still processing. Retry shortly.",
                )
                .into_response());
            }
            Begin::Reused => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "IDEMPOTENCY_KEY_REUSED",
                    "This Idempotency-Key was used with a different request.",
                )
                .into_response());
            }
        }
    }
    let execution = Execution {
        shared: Arc::clone(shared),
        key: Arc::clone(key),
        idempotency_key: idempotency_key.clone(),
        method: method.to_string(),
        path,
        body_sha256: body_sha256(&body),
    };
    let req = Request::from_parts(parts, Body::from(body));
    match shared.tracker.spawn(execution.run(req, next)).await {
        Ok(stored) => Ok(answer(stored)),
        Err(_) => {
            if let Some(idem) = &idempotency_key {
                lock(&key.idempotency).abandon(idem);
            }
            Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "The simulator failed.")
                .into_response())
        }
    }
}

struct Execution {
    shared: Arc<Shared>,
    key: Arc<KeyState>,
    idempotency_key: Option<String>,
    method: String,
    path: String,
    body_sha256: String,
}

impl Execution {
    async fn run(self, req: Request, next: Next) -> Stored {
        // Subscribe before counting in_flight, so a release seen by a caller that
        // watched in_flight cannot be missed.
        let mut release = self.shared.release.subscribe();
        lock(&self.key.counters).in_flight += 1;
        let slow = lock(&self.shared.faults).slow_ms;
        if slow > 0 {
            tokio::select! {
                () = tokio::time::sleep(std::time::Duration::from_millis(slow)) => {}
                _ = release.changed() => {}
                () = self.shared.shutdown.cancelled() => {}
            }
        }
        let response = next.run(req).await;
        let debited = response.extensions().get::<Debited>().map_or(0, |d| d.0);
        let (parts, body) = response.into_parts();
        let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
        let stored = Stored {
            status: parts.status,
            content_type: parts.headers.get(header::CONTENT_TYPE).cloned(),
            body,
        };
        lock(&self.shared.world).ledger.push(LedgerEntry {
            key_fingerprint: self.key.fingerprint.clone(),
            idempotency_key: self.idempotency_key.clone(),
            method: self.method,
            path: self.path,
            body_sha256: self.body_sha256,
            status: stored.status.as_u16(),
            credits_debited: debited,
            at: Utc::now(),
        });
        if let Some(idem) = &self.idempotency_key {
            lock(&self.key.idempotency).finish(idem, stored.clone());
        }
        let mut counters = lock(&self.key.counters);
        counters.in_flight -= 1;
        counters.executions += 1;
        stored
    }
}

fn answer(stored: Stored) -> Response {
    let mut response = Response::new(Body::from(stored.body));
    *response.status_mut() = stored.status;
    if let Some(content_type) = stored.content_type {
        response.headers_mut().insert(header::CONTENT_TYPE, content_type);
    }
    response
}

fn replayed(stored: Stored) -> Response {
    let mut response = answer(stored);
    response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}
