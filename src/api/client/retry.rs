//! How long a GET that failed in a way worth retrying waits before its first retry.

use std::time::Duration;

/// The longest first wait before a GET answered 503 (or 408, or a lost
/// answer) is sent again, when the server says nothing of when to come back:
/// at the real key's 2 requests a second, half a token's time.
const FIRST_RETRY_AFTER: Duration = Duration::from_millis(250);

/// The first wait before retrying a GET, doubling (with jitter) at each
/// retry up to 30 s: half a token's time at the key's rate, and at most
/// [`FIRST_RETRY_AFTER`]. So the retry keeps its place among the pages in
/// flight the same way whatever the rate (a key, or the simulator, faster
/// than 2/s waits as many tokens' time, not more), and a slower key does not
/// leave a failed page unanswered longer than at 2/s. A `Retry-After` the
/// server sends is always waited out.
pub(super) fn first_retry_after(rate_per_second: f64) -> Duration {
    let half_a_token = Duration::try_from_secs_f64(0.5 / rate_per_second).unwrap_or(FIRST_RETRY_AFTER);
    half_a_token.min(FIRST_RETRY_AFTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_retry_waits_half_a_token_at_the_keys_rate_and_never_more_than_at_the_real_2_a_second() {
        assert_eq!(first_retry_after(2.0), Duration::from_millis(250), "the real key");
        assert_eq!(first_retry_after(20.0), Duration::from_millis(25), "ten times faster: a tenth");
        assert_eq!(first_retry_after(0.5), Duration::from_millis(250), "slower: no longer than at 2/s");
        assert_eq!(first_retry_after(0.0), Duration::from_millis(250), "no rate: the bound");
    }
}
