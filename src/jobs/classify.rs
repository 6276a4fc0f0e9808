//! What an answer (or its absence) means for a job: succeeded, retry later
//! with the same key, failed for a person to look at, or the key is wrong.
//! Pure: the replay step turns a [`Class`] into a queue verdict.

use std::time::Duration;

use crate::api::ApiError;

/// How a failed send is handled.
#[derive(Debug, Clone, PartialEq)]
pub enum Class {
    /// Lost connection, timeout, 408, 5xx: the mutation may or may not have
    /// run; resend the same request with the same key after a backoff (at
    /// least what the server asked for), counted as a failed attempt.
    Retry { at_least: Option<Duration> },
    /// 429 beyond the client's wait bound, `IDEMPOTENCY_KEY_IN_PROGRESS`, or
    /// the budget store failing: resend after `after`, not a failed attempt.
    Wait { after: Option<Duration> },
    /// The API answered, and resending the same request cannot change that.
    Failed { message: String },
    /// 401, or 403 on the key's scope: the key is wrong, not the job.
    KeyRefused,
    /// The worker is stopping and the request was still waiting for the
    /// key's budget: it was not sent, so the job goes back as it was.
    NotSent,
}

/// The API's advice for `BUNDLE_PRICING_CHANGED`, kept with the failure.
pub const PRICING_CHANGED_ADVICE: &str = "the price changed since this job was enqueued and the API asks for a \
     retry with a new idempotency key; the job is never sent again under this one. If it is still wanted, run \
     `worker jobs retry ID --new-key`: it asks the API for the new price and queues the job only once you accept \
     it (never automatic: a new key charges)";

pub fn classify(e: &ApiError) -> Class {
    if e.code() == Some("BUNDLE_PRICING_CHANGED") {
        return Class::Failed { message: format!("{e}: {PRICING_CHANGED_ADVICE}") };
    }
    match e {
        ApiError::Retryable { retry_after, .. } => Class::Retry { at_least: *retry_after },
        ApiError::RateLimited { wait, .. } => Class::Wait { after: Some(*wait) },
        ApiError::Budget { .. } | ApiError::Unrecorded { .. } => Class::Wait { after: None },
        ApiError::Conflict { code, .. } if code == "IDEMPOTENCY_KEY_IN_PROGRESS" => {
            Class::Wait { after: None }
        }
        ApiError::Conflict { code, .. } if code == "IDEMPOTENCY_KEY_REUSED" => Class::Failed {
            message: format!(
                "{e}: the key was already used for a different request; this is a bug to look into, \
                 a new key is never minted automatically"
            ),
        },
        ApiError::Unauthorized { .. } => Class::KeyRefused,
        ApiError::Cancelled { .. } => Class::NotSent,
        // A 403 about the key's scope (AUTH_INSUFFICIENT_SCOPE, or no code at
        // all) is the key's fault; BUNDLE_NOT_OWNED and the like are the job's.
        ApiError::Fatal { status: Some(403), code, .. }
            if code.as_deref().is_none_or(|c| c.starts_with("AUTH_") || c.contains("SCOPE")) =>
        {
            Class::KeyRefused
        }
        _ => Class::Failed { message: e.to_string() },
    }
}

/// The HTTP status an error came with, when one came.
pub fn status_of(e: &ApiError) -> Option<u16> {
    match e {
        ApiError::Unauthorized { .. } => Some(401),
        ApiError::NotFound { .. } => Some(404),
        ApiError::Conflict { .. } => Some(409),
        ApiError::RateLimited { .. } => Some(429),
        ApiError::Retryable { status, .. } | ApiError::Fatal { status, .. } => *status,
        ApiError::Invalid { .. }
        | ApiError::Budget { .. }
        | ApiError::Unrecorded { .. }
        | ApiError::Cancelled { .. } => None,
    }
}

/// The `X-Request-ID` this worker sent, when the error kept it.
pub fn request_id_of(e: &ApiError) -> Option<&str> {
    match e {
        ApiError::Retryable { request_id, .. }
        | ApiError::Fatal { request_id, .. }
        | ApiError::Unauthorized { request_id, .. }
        | ApiError::NotFound { request_id, .. }
        | ApiError::Conflict { request_id, .. }
            if !request_id.is_empty() =>
        {
            Some(request_id)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn conflict(code: &str) -> ApiError {
        ApiError::Conflict {
            request: "POST /x".into(),
            code: code.into(),
            message: "m".into(),
            details: Box::new(json!({})),
            request_id: "r".into(),
        }
    }

    fn fatal(status: u16, code: Option<&str>) -> ApiError {
        ApiError::Fatal {
            request: "POST /x".into(),
            status: Some(status),
            code: code.map(str::to_string),
            excerpt: String::new(),
            request_id: "r".into(),
            details: None,
        }
    }

    #[test]
    fn each_answer_maps_to_what_the_queue_does_with_the_job() {
        assert_eq!(classify(&conflict("IDEMPOTENCY_KEY_IN_PROGRESS")), Class::Wait { after: None });
        assert!(matches!(classify(&conflict("IDEMPOTENCY_KEY_REUSED")), Class::Failed { .. }));
        assert!(matches!(classify(&conflict("BUNDLE_INVALID_STATUS")), Class::Failed { .. }));
        let pricing = classify(&fatal(400, Some("BUNDLE_PRICING_CHANGED")));
        assert!(matches!(pricing, Class::Failed { message } if message.contains("--new-key")));
        assert_eq!(classify(&fatal(403, Some("AUTH_INSUFFICIENT_SCOPE"))), Class::KeyRefused);
        assert!(matches!(classify(&fatal(403, Some("BUNDLE_NOT_OWNED"))), Class::Failed { .. }));
        assert!(matches!(classify(&fatal(402, Some("INSUFFICIENT_CREDITS"))), Class::Failed { .. }));
        let unauthorized = ApiError::Unauthorized {
            request: "POST /x".into(),
            code: "AUTH_REVOKED_KEY".into(),
            request_id: "r".into(),
        };
        assert_eq!(classify(&unauthorized), Class::KeyRefused);
        let lost = ApiError::Retryable {
            request: "POST /x".into(),
            status: Some(503),
            reason: "HTTP 503".into(),
            request_id: "r".into(),
            retry_after: Some(Duration::from_secs(7)),
        };
        assert_eq!(classify(&lost), Class::Retry { at_least: Some(Duration::from_secs(7)) });
    }
}
