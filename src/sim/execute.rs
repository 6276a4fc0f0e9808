//! Mutations: the idempotency checks, then the execution in its own task (so a
//! client that disconnects cannot cancel it halfway), its ledger entry and the
//! stored answer.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;

use super::error::ApiError;
use super::extensions::{Debited, Unrouted};
use super::idempotency::{Begin, MAX_KEY_LEN, Stored, Token, request_hash};
use super::inject::{inject_failure, pricing_changed};
use super::ledger::{LedgerEntry, body_sha256};
use super::lock::lock;
use super::state::{KeyState, Shared};

/// Mutation bodies are small JSON documents; anything bigger is a client bug.
const MAX_BODY_BYTES: usize = 1 << 20;

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

/// Whether this is a dry run of one of the operations that honour
/// `X-TokPortal-Dry-Run: true` (`POST /bundles` and `POST /bundles/bulk`).
pub fn is_dry_run(method: &Method, path: &str, headers: &HeaderMap) -> bool {
    *method == Method::POST
        && matches!(path.trim_end_matches('/'), "/bundles" | "/bundles/bulk")
        && headers.get("x-tokportal-dry-run").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"))
}

/// Checks the `Idempotency-Key`, injects a 5xx if told to, consults the key's
/// store, then executes and stores the answer. `Err` is an answer given
/// without executing anything (and not stored).
pub async fn mutate(
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
    if is_dry_run(&method, parts.uri.path(), &parts.headers) {
        // A preview creates nothing: no execution, no ledger entry, nothing stored
        // under the idempotency key (else the real request would replay the preview).
        return Ok(next.run(Request::from_parts(parts, Body::from(body))).await);
    }
    let mut idempotency = None;
    if let Some(idem) = &idempotency_key {
        let hash = request_hash(method.as_str(), &path, &body);
        let begin = lock(&key.idempotency).begin(idem, hash, Instant::now(), shared.config.idempotency_ttl);
        match begin {
            Begin::Execute(token) => idempotency = Some((idem.clone(), token)),
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
    if let Some(refused) = pricing_changed(shared) {
        return Ok(store_unexecuted(key, idempotency.as_ref(), refused).await);
    }
    let execution = Execution {
        shared: Arc::clone(shared),
        key: Arc::clone(key),
        idempotency: idempotency.clone(),
        method: method.to_string(),
        path,
        body_sha256: body_sha256(&body),
    };
    let req = Request::from_parts(parts, Body::from(body));
    match shared.tracker.spawn(execution.run(req, next)).await {
        Ok(stored) => Ok(answer(stored)),
        Err(_) => {
            if let Some((idem, token)) = &idempotency {
                lock(&key.idempotency).abandon(idem, *token);
            }
            Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "The simulator failed.")
                .into_response())
        }
    }
}

struct Execution {
    shared: Arc<Shared>,
    key: Arc<KeyState>,
    /// The key and the token of the store entry this execution fills.
    idempotency: Option<(String, Token)>,
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
        let unrouted = response.extensions().get::<Unrouted>().is_some();
        let debited = response.extensions().get::<Debited>().map_or(0, |d| d.0);
        let (parts, body) = response.into_parts();
        let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
        let stored = Stored {
            status: parts.status,
            content_type: parts.headers.get(header::CONTENT_TYPE).cloned(),
            body,
        };
        if unrouted {
            // No endpoint matched: nothing executed, nothing to record or store.
            if let Some((idem, token)) = &self.idempotency {
                lock(&self.key.idempotency).abandon(idem, *token);
            }
            lock(&self.key.counters).in_flight -= 1;
            return stored;
        }
        lock(&self.shared.world).ledger.push(LedgerEntry {
            key_fingerprint: self.key.fingerprint.clone(),
            idempotency_key: self.idempotency.as_ref().map(|(idem, _)| idem.clone()),
            method: self.method,
            path: self.path,
            body_sha256: self.body_sha256,
            status: stored.status.as_u16(),
            credits_debited: debited,
            at: Utc::now(),
        });
        if let Some((idem, token)) = &self.idempotency {
            lock(&self.key.idempotency).finish(idem, *token, stored.clone(), Instant::now());
        }
        let mut counters = lock(&self.key.counters);
        counters.in_flight -= 1;
        counters.executions += 1;
        stored
    }
}

/// An answer an endpoint gave without executing anything, stored under the
/// idempotency key like any other, so the same key replays it.
async fn store_unexecuted(
    key: &KeyState,
    idempotency: Option<&(String, Token)>,
    response: Response,
) -> Response {
    let (parts, body) = response.into_parts();
    let stored = Stored {
        status: parts.status,
        content_type: parts.headers.get(header::CONTENT_TYPE).cloned(),
        body: to_bytes(body, usize::MAX).await.unwrap_or_default(),
    };
    if let Some((idem, token)) = idempotency {
        lock(&key.idempotency).finish(idem, *token, stored.clone(), Instant::now());
    }
    answer(stored)
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
