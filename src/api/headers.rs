//! The rate-limit headers of a response, parsed leniently: a missing or
//! malformed header is `None`, never an error (the budget then relies on its
//! own arithmetic).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::model::ErrorEnvelope;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RateLimitHeaders {
    /// `X-RateLimit-Limit`: the size of the key's bucket.
    pub limit: Option<u32>,
    /// `X-RateLimit-Remaining`: whole tokens left after this request.
    pub remaining: Option<f64>,
    /// `X-RateLimit-Reset`: unix seconds when the bucket is full again.
    pub reset: Option<f64>,
    /// `Retry-After`, sent as seconds or as an HTTP date, as a wait from now.
    pub retry_after: Option<Duration>,
}

impl RateLimitHeaders {
    pub fn parse(headers: &HeaderMap) -> RateLimitHeaders {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let number = |name: &str| text(name).and_then(|v| v.parse::<f64>().ok()).filter(|v| v.is_finite());
        RateLimitHeaders {
            limit: text("x-ratelimit-limit").and_then(|v| v.parse::<u32>().ok()).filter(|v| *v > 0),
            remaining: number("x-ratelimit-remaining").filter(|v| *v >= 0.0),
            reset: number("x-ratelimit-reset"),
            retry_after: text(RETRY_AFTER.as_str()).and_then(|v| parse_retry_after(v, SystemTime::now())),
        }
    }
}

/// `Retry-After` is delay-seconds or an HTTP-date (RFC 9110 §10.2.3), and a
/// recipient must accept all three date forms: IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), the obsolete RFC 850 form
/// (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`).
/// A date in the past means "now".
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    if let Ok(secs) = value.parse::<f64>() {
        return (secs >= 0.0).then(|| seconds(secs));
    }
    let at = http_date(value)?;
    let at = UNIX_EPOCH + Duration::from_secs(u64::try_from(at).ok()?);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Unix seconds of an HTTP-date in any of its three forms.
fn http_date(value: &str) -> Option<i64> {
    use chrono::NaiveDateTime;
    if let Ok(at) = chrono::DateTime::parse_from_rfc2822(value) {
        return Some(at.timestamp());
    }
    // RFC 850 gives a two-digit year; chrono's `%y` maps 00-68 to 20xx and
    // 69-99 to 19xx, which is what RFC 9110 asks for dates within 50 years.
    let rfc850 = NaiveDateTime::parse_from_str(value, "%A, %d-%b-%y %H:%M:%S GMT");
    let asctime = || NaiveDateTime::parse_from_str(value, "%a %b %e %H:%M:%S %Y");
    rfc850.or_else(|_| asctime()).ok().map(|at| at.and_utc().timestamp())
}

/// A number of seconds from the network or a store as a `Duration`: negative
/// and NaN become zero, anything too large saturates instead of panicking.
pub fn seconds(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or(Duration::MAX)
}

/// Seconds from now until a unix timestamp (negative when it is past).
pub fn seconds_until_unix(unix: f64) -> f64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    unix - now
}

/// What the server asked for on a 429: the larger of `Retry-After` and
/// `details.retry_after_seconds`, or one second when it said nothing.
pub fn server_wait(limits: &RateLimitHeaders, body: &[u8]) -> Duration {
    let from_body = serde_json::from_slice::<ErrorEnvelope>(body)
        .ok()
        .and_then(|e| e.error.retry_after_seconds())
        .map(seconds);
    match (limits.retry_after, from_body) {
        (Some(a), Some(b)) => a.max(b),
        (a, b) => a.or(b).unwrap_or(Duration::from_secs(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn rate_limit_headers_are_read_when_present_and_ignored_when_malformed() {
        let h = RateLimitHeaders::parse(&headers(&[
            ("x-ratelimit-remaining", "7"),
            ("x-ratelimit-reset", "1779724800"),
            ("retry-after", "2"),
        ]));
        assert_eq!(h.remaining, Some(7.0));
        assert_eq!(h.reset, Some(1_779_724_800.0));
        assert_eq!(h.retry_after, Some(Duration::from_secs(2)));
        let h =
            RateLimitHeaders::parse(&headers(&[("x-ratelimit-remaining", "many"), ("retry-after", "-1")]));
        assert_eq!(h, RateLimitHeaders::default());
    }

    #[test]
    fn retry_after_may_be_an_http_date_in_any_of_its_three_forms() {
        // Sun, 06 Nov 1994 08:49:37 GMT, less 30 s.
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777 - 30);
        for date in
            ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"]
        {
            assert_eq!(parse_retry_after(date, now), Some(Duration::from_secs(30)), "{date}");
        }
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("tomorrow", now), None);
    }

    #[test]
    fn a_retry_after_date_in_the_past_means_now() {
        let h = RateLimitHeaders::parse(&headers(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]));
        assert_eq!(h.retry_after, Some(Duration::ZERO));
    }

    #[test]
    fn the_bucket_size_is_read_and_a_zero_or_fractional_one_ignored() {
        assert_eq!(RateLimitHeaders::parse(&headers(&[("x-ratelimit-limit", "120")])).limit, Some(120));
        assert_eq!(RateLimitHeaders::parse(&headers(&[("x-ratelimit-limit", "0")])).limit, None);
        assert_eq!(RateLimitHeaders::parse(&headers(&[("x-ratelimit-limit", "1.5")])).limit, None);
    }
}
