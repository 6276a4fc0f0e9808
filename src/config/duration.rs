//! Durations as `config.toml` writes them: a number of seconds
//! ([`positive_secs`]) or a text such as `1h30m` ([`parse_duration`]).

use std::time::Duration;

/// A positive, finite number of seconds a `Duration` can hold; anything else
/// (including `1e30`, which would panic in `Duration::from_secs_f64`) is invalid.
pub(super) fn positive_secs(secs: f64) -> Option<Duration> {
    (secs.is_finite() && secs > 0.0).then(|| Duration::try_from_secs_f64(secs).ok()).flatten()
}

/// A duration written as `24h`, `90m`, `3600s`, `2d` or a sum such as
/// `1h30m`; a bare number is seconds. Zero is allowed (it means "every run").
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let (mut total, mut digits) = (0u64, String::new());
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return None,
        };
        let n: u64 = std::mem::take(&mut digits).parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    (digits.is_empty() && !text.is_empty()).then_some(Duration::from_secs(total))
}
