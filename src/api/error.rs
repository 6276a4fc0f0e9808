//! [`ApiError`]: what can go wrong with one API call, in the classes callers
//! branch on (wait, fix the key, skip, fail the job, retry later), and the
//! mapping from an HTTP status and error envelope to those classes.

use std::time::Duration;

use serde_json::Value;

use super::model::ErrorEnvelope;

/// Longest excerpt of a response body kept in an error.
const EXCERPT_CHARS: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The key's budget (pacing or the server's 429s) would hold this request
    /// back longer than the configured bound. `wait` is what it would take.
    #[error(
        "{request}: rate limited: the next attempt would wait {wait:.1?}, more than the allowed {max_wait:.1?}"
    )]
    RateLimited { request: String, wait: Duration, max_wait: Duration },

    /// `request_id`: the `X-Request-ID` the answer came back to (empty when none).
    #[error("{request}: the API refused the key ({code}, HTTP 401); check TOKPORTAL_API_KEY")]
    Unauthorized { request: String, code: String, request_id: String },

    /// `details` is the error envelope's `details`, when it had any.
    #[error("{request}: not found ({code})")]
    NotFound { request: String, code: String, details: Option<Box<Value>>, request_id: String },

    #[error("{request}: conflict {code}: {message}")]
    Conflict { request: String, code: String, message: String, details: Box<Value>, request_id: String },

    /// 408, 5xx, a timeout or a lost connection: the same request may succeed later.
    #[error("{request}: {reason} (request id {request_id})")]
    Retryable {
        request: String,
        status: Option<u16>,
        reason: String,
        request_id: String,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },

    /// Any other 4xx, or a body that cannot be decoded: retrying will not help.
    /// `details` is the error envelope's `details` when it had any (for
    /// `INSUFFICIENT_CREDITS`: `required`, `available`, `missing`).
    #[error("{request}: {}{}: {excerpt} (request id {request_id})",
        status.map(|s| format!("HTTP {s}")).unwrap_or_else(|| "no status".into()),
        code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Fatal {
        request: String,
        status: Option<u16>,
        code: Option<String>,
        excerpt: String,
        request_id: String,
        details: Option<Box<Value>>,
    },

    /// The caller asked for something the client will not send; nothing was sent.
    #[error("{request}: {message}")]
    Invalid { request: String, message: String },

    /// The caller is stopping (a signal, `--max-duration`) and this request
    /// was still waiting for the key's budget: nothing was sent.
    #[error("{request}: not sent: stopping while it waited for the key's budget")]
    Cancelled { request: String },

    /// The caller's step before the send (see `Client::mutate_with`) failed;
    /// nothing was sent.
    #[error("{request}: not sent: the send could not be recorded first: {source:#}")]
    Unrecorded { request: String, source: anyhow::Error },

    /// The budget store (Postgres) failed; nothing was sent.
    #[error("{request}: the request budget is unavailable: {source:#}")]
    Budget { request: String, source: anyhow::Error },
}

impl ApiError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, ApiError::Retryable { .. })
    }

    /// The caller stopped while this request waited: nothing was sent.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, ApiError::Cancelled { .. })
    }

    /// Whether `e` is, or wraps, an [`ApiError::Cancelled`].
    pub fn cancelled_in(e: &anyhow::Error) -> bool {
        e.chain().any(|cause| cause.downcast_ref::<ApiError>().is_some_and(ApiError::is_cancelled))
    }

    /// The API's error code, when the server sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Unauthorized { code, .. } | ApiError::NotFound { code, .. } => Some(code),
            ApiError::Conflict { code, .. } => Some(code),
            ApiError::Fatal { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// The error envelope's `details`, when the server sent some (not null).
    pub fn details(&self) -> Option<&Value> {
        match self {
            ApiError::Conflict { details, .. } => Some(&**details),
            ApiError::NotFound { details, .. } | ApiError::Fatal { details, .. } => details.as_deref(),
            _ => None,
        }
        .filter(|d| !d.is_null())
    }
}

/// Classifies a non-success, non-429 response.
pub fn from_status(request: String, status: u16, body: &[u8], request_id: String) -> ApiError {
    let envelope = serde_json::from_slice::<ErrorEnvelope>(body).ok().map(|e| e.error);
    let code = envelope.as_ref().and_then(|e| e.code.clone());
    let details = || envelope.as_ref().map(|e| &e.details).filter(|d| !d.is_null()).cloned().map(Box::new);
    let or_status = |code: Option<String>| code.unwrap_or_else(|| format!("HTTP {status}"));
    match status {
        401 => ApiError::Unauthorized { request, code: or_status(code), request_id },
        404 => ApiError::NotFound { details: details(), request, code: or_status(code), request_id },
        409 => {
            let (message, details) =
                envelope.map(|e| (e.message.unwrap_or_default(), e.details)).unwrap_or_default();
            ApiError::Conflict {
                request,
                code: or_status(code),
                message,
                details: Box::new(details),
                request_id,
            }
        }
        408 | 500..=599 => ApiError::Retryable {
            request,
            status: Some(status),
            reason: format!("HTTP {status}{}", code.map(|c| format!(" {c}")).unwrap_or_default()),
            request_id,
            retry_after: None,
        },
        _ => ApiError::Fatal {
            details: details(),
            request,
            status: Some(status),
            // The error envelope's message and details, not the envelope: the code is said beside them.
            excerpt: match envelope.as_ref().filter(|e| e.message.as_deref().is_some_and(|m| !m.is_empty())) {
                Some(e) if code.is_some() => {
                    let message = e.message.as_deref().unwrap_or_default();
                    let text = if e.details.is_null() {
                        message.to_string()
                    } else {
                        format!("{message} {}", e.details)
                    };
                    excerpt(text.as_bytes())
                }
                _ => excerpt(body),
            },
            code,
            request_id,
        },
    }
}

/// The start of a body, on a character boundary, for error messages.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Why an attempt got no response (timeout, connection refused or lost), with
/// the innermost cause; the URL is already in the error's `request`.
pub fn transport_reason(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the connection failed while reading the response"
    } else {
        "the request failed"
    };
    // The source chain names the cause; the URL is already in the message.
    let mut cause = String::new();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() { kind.to_string() } else { format!("{kind}: {cause}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(status: u16, body: &str) -> ApiError {
        from_status("GET /x".into(), status, body.as_bytes(), "r1".into())
    }

    #[test]
    fn each_status_maps_to_the_class_callers_branch_on() {
        let envelope =
            |code: &str| format!(r#"{{"error":{{"code":"{code}","message":"m","details":{{"a":1}}}}}}"#);
        assert!(matches!(classify(401, &envelope("AUTH_INVALID_KEY")),
            ApiError::Unauthorized { code, .. } if code == "AUTH_INVALID_KEY"));
        assert!(matches!(classify(404, &envelope("BUNDLE_NOT_FOUND")), ApiError::NotFound { .. }));
        let conflict = classify(409, &envelope("IDEMPOTENCY_KEY_REUSED"));
        assert_eq!(conflict.code(), Some("IDEMPOTENCY_KEY_REUSED"));
        assert!(matches!(conflict, ApiError::Conflict { details, .. } if details["a"] == 1));
        assert!(classify(408, "").is_retryable());
        assert!(classify(503, "<html>busy</html>").is_retryable());
        let poor = classify(402, &envelope("INSUFFICIENT_CREDITS"));
        assert_eq!(poor.details(), Some(&serde_json::json!({"a": 1})));
        assert!(matches!(poor,
            ApiError::Fatal { status: Some(402), code: Some(c), .. } if c == "INSUFFICIENT_CREDITS"));
        assert_eq!(
            classify(404, &envelope("BUNDLE_NOT_FOUND")).details(),
            Some(&serde_json::json!({"a": 1}))
        );
        assert_eq!(classify(400, r#"{"error":{"code":"X","message":"m"}}"#).details(), None);
    }

    #[test]
    fn a_fatal_error_keeps_a_short_excerpt_of_an_undecodable_body() {
        let body = "x".repeat(1000);
        let ApiError::Fatal { excerpt, code, .. } = classify(400, &body) else { panic!("not fatal") };
        assert_eq!(code, None);
        assert_eq!(excerpt.chars().count(), EXCERPT_CHARS + 1);
    }
}
