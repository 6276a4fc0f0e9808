//! Times of the saved accounts' data: unix seconds (or milliseconds, for the
//! `updated_at` a change bumps) and their RFC 3339 form.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// Unix seconds of midnight UTC of a date.
pub fn secs(year: i32, month: u32, day: u32) -> i64 {
    Utc.with_ymd_and_hms(year, month, day, 0, 0, 0).single().map_or(0, |t| t.timestamp())
}

pub fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

/// `2026-01-05T08:00:00Z`.
pub fn timestamp_secs(at: i64) -> String {
    DateTime::from_timestamp(at, 0).unwrap_or_default().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `2026-01-05T08:00:00.123Z`: an `updated_at` keeps the milliseconds, so a
/// change made just after a client's `since` is never stamped before it.
pub fn timestamp_millis(at: i64) -> String {
    DateTime::from_timestamp_millis(at).unwrap_or_default().to_rfc3339_opts(SecondsFormat::Millis, true)
}
