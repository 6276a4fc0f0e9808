//! When a client may come back: `Retry-After` (seconds or an HTTP date) and
//! `X-RateLimit-Reset`, from the system clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderValue;

use super::faults::RetryAfterFormat;

/// The time since the Unix epoch (zero for a clock set before it).
pub fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
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
