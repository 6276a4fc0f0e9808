//! How one request goes out: the key's budget first (its turn, a 429 block
//! waited out and shared with every client of the key, up to `max_wait`),
//! then the caller's `before_send` step if it gave one, then one attempt with the identifying headers, then the answer finished
//! into an [`ApiResponse`] or an [`ApiError`] that never holds the key.

use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::Value;
use tracing::Instrument;
use url::Url;

use super::{ApiResponse, BeforeSend, Client};
use crate::api::error::{self, ApiError};
use crate::api::headers::{RateLimitHeaders, server_wait};
use crate::api::mutation::IdempotencyKey;

const CLIENT_ID: &str = concat!("tokportal-sync/", env!("CARGO_PKG_VERSION"));

/// What one attempt brought back before classification.
struct Raw {
    status: StatusCode,
    headers: HeaderMap,
    /// The body, or its first `max_response_bytes` when `too_large`.
    body: Vec<u8>,
    /// The answer was longer than `max_response_bytes`: read no further.
    too_large: bool,
}

impl Client {
    /// `wait`, unless this clone is cancelled first (then nothing was sent).
    pub(super) async fn unless_cancelled<T>(
        &self,
        request: &str,
        wait: impl std::future::Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        let Some(cancel) = &self.cancel else { return wait.await };
        tokio::select! {
            biased;
            () = cancel.cancelled() => Err(ApiError::Cancelled { request: request.to_string() }),
            out = wait => out,
        }
    }

    /// One request through the budget, waiting out 429s until the bound.
    pub(super) async fn send(
        &self,
        method: Method,
        url: &Url,
        idempotency_key: Option<&IdempotencyKey>,
        body: Option<&str>,
        dry_run: bool,
        before_send: Option<BeforeSend<'_>>,
    ) -> Result<ApiResponse, ApiError> {
        let request = describe(&method, url);
        let budget = &self.inner.budget;
        let mut streak = budget.streak();
        let mut waited = Duration::ZERO;
        loop {
            // Dropping a waiting acquire is safe: a send it booked is held
            // for the next request of the process, never lost or doubled.
            let limit = budget.max_wait().saturating_sub(waited);
            let permit =
                self.unless_cancelled(&request, budget.acquire_as(self.priority, &request, limit)).await?;
            waited += permit.waited;
            self.inner.counters.waited(permit.waited);
            if let Some(signal) = &self.on_send {
                signal.sent.store(true, std::sync::atomic::Ordering::Release);
                signal.wake.notify_one();
            }
            if let Some(before_send) = before_send {
                before_send()
                    .await
                    .map_err(|source| ApiError::Unrecorded { request: request.clone(), source })?;
            }
            let request_id = format!("tps_{}", uuid::Uuid::new_v4().simple());
            let span = tracing::debug_span!("api.request", request = %request, request.id = %request_id);
            let raw = self
                .attempt(&method, url, &request_id, idempotency_key, body, dry_run)
                .instrument(span.clone())
                .await
                .map_err(|reason| ApiError::Retryable {
                    request: request.clone(),
                    status: None,
                    reason,
                    request_id: request_id.clone(),
                    retry_after: None,
                })?;
            let limits = RateLimitHeaders::parse(&raw.headers);
            if permit.probe && raw.status != StatusCode::TOO_MANY_REQUESTS {
                budget.lift().await;
            }
            budget.observe(&permit, &limits).await;
            span.in_scope(|| tracing::debug!(api.status = raw.status.as_u16(), "response"));
            self.inner.counters.response(raw.status.as_u16());
            if raw.status == StatusCode::TOO_MANY_REQUESTS {
                self.inner.counters.rate_limited();
                let wait = streak.next_wait(server_wait(&limits, &raw.body));
                tracing::warn!(request = %request, request.id = %request_id, budget.wait_ms = wait.as_millis() as u64,
                    "rate limited (429); pausing every client of the key");
                budget.block(wait).await;
                let total = waited.saturating_add(wait);
                if total > budget.max_wait() {
                    return Err(ApiError::RateLimited { request, wait: total, max_wait: budget.max_wait() });
                }
                continue;
            }
            return self.finish(request, request_id, raw, &limits);
        }
    }

    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        request_id: &str,
        idempotency_key: Option<&IdempotencyKey>,
        body: Option<&str>,
        dry_run: bool,
    ) -> Result<Raw, String> {
        self.inner.counters.request();
        let mut builder = self
            .inner
            .http
            .request(method.clone(), url.clone())
            .timeout(self.inner.options.timeout)
            .header("X-API-Key", self.key_header())
            .header("X-TokPortal-Client", CLIENT_ID)
            .header("X-Request-ID", request_id)
            .header(ACCEPT, "application/json");
        if let Some(key) = idempotency_key {
            builder = builder.header("Idempotency-Key", key.as_str());
        }
        if dry_run {
            builder = builder.header("X-TokPortal-Dry-Run", "true");
        }
        if let Some(body) = body {
            builder = builder.header(CONTENT_TYPE, "application/json").body(body.to_string());
        }
        let response = builder.send().await.map_err(error::transport_reason)?;
        let status = response.status();
        let headers = response.headers().clone();
        let (body, too_large) = read_capped(response, self.inner.options.max_response_bytes).await?;
        Ok(Raw { status, headers, body, too_large })
    }

    /// The only place the key is exposed: a header value marked sensitive, so
    /// reqwest and hyper never print it.
    fn key_header(&self) -> HeaderValue {
        let mut value = HeaderValue::from_str(self.inner.options.key.expose_secret())
            .expect("the key was checked to be a valid header value in Client::new");
        value.set_sensitive(true);
        value
    }

    fn finish(
        &self,
        request: String,
        request_id: String,
        raw: Raw,
        limits: &RateLimitHeaders,
    ) -> Result<ApiResponse, ApiError> {
        let status = raw.status.as_u16();
        // An error status keeps its class (a 5xx page is still retryable), read from the first bytes.
        if raw.too_large && raw.status.is_success() {
            let cap = self.inner.options.max_response_bytes;
            return Err(ApiError::Fatal {
                request,
                status: Some(status),
                code: None,
                excerpt: format!("the answer is larger than api.max_response_bytes ({cap} bytes); not read"),
                request_id,
                details: None,
            });
        }
        if !raw.status.is_success() {
            let mut e = error::from_status(request, status, &raw.body, request_id);
            if let ApiError::Retryable { retry_after, .. } = &mut e {
                *retry_after = limits.retry_after;
            }
            return Err(self.redacted(e));
        }
        let body = if raw.body.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(&raw.body).map_err(|e| {
                self.redacted(ApiError::Fatal {
                    request,
                    status: Some(status),
                    code: None,
                    excerpt: format!("undecodable JSON ({e}): {}", error::excerpt(&raw.body)),
                    request_id: request_id.clone(),
                    details: None,
                })
            })?
        };
        let replayed = raw.headers.get("idempotent-replayed").is_some_and(|v| v.as_bytes() == b"true");
        Ok(ApiResponse { status, body, request_id, replayed })
    }

    /// A server could echo request headers into an error page: make sure the
    /// key does not travel on in an error.
    fn redacted(&self, mut e: ApiError) -> ApiError {
        let key = self.inner.options.key.expose_secret();
        if key.is_empty() {
            return e;
        }
        if let ApiError::Fatal { excerpt, .. } = &mut e
            && excerpt.contains(key)
        {
            *excerpt = excerpt.replace(key, "[redacted]");
        }
        // The envelope's details are stored with a failed job: never with the key in them.
        if let ApiError::Fatal { details: Some(details), .. }
        | ApiError::NotFound { details: Some(details), .. } = &mut e
            && details.to_string().contains(key)
        {
            let text = details.to_string().replace(key, "[redacted]");
            **details = serde_json::from_str(&text).unwrap_or(Value::Null);
        }
        e
    }
}

/// The body, chunk by chunk, up to `cap` bytes: past it (or when the
/// announced length is past it) reading stops and the answer is `too_large`,
/// so a huge answer never fills the memory.
async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<(Vec<u8>, bool), String> {
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Ok((Vec::new(), true));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(error::transport_reason)? {
        if body.len() + chunk.len() > cap {
            body.extend_from_slice(&chunk[..cap - body.len()]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// `GET /bundles?page=2`: the request as errors and logs show it.
pub(super) fn describe(method: &Method, url: &Url) -> String {
    let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
    format!("{method} {}{query}", url.path())
}
