//! GETs retried after a failure worth retrying, and how long each retry waits.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use reqwest::Method;

use super::send::describe;
use super::{ApiError, ApiResponse, Client, Priority};

/// The longest wait before a GET's second retry, when the server says
/// nothing of when to come back: at the real key's 2 requests a second,
/// half a token's time.
const FIRST_RETRY_AFTER: Duration = Duration::from_millis(250);

/// The wait before a GET's second retry, doubling (with jitter) at each
/// retry after it up to 30 s: half a token's time at the key's rate, and at
/// most [`FIRST_RETRY_AFTER`]. So a retry keeps its place among the pages in
/// flight the same way whatever the rate (a key, or the simulator, faster
/// than 2/s waits as many tokens' time, not more), and a slower key does not
/// leave a failed page unanswered longer than at 2/s.
fn first_retry_after(rate_per_second: f64) -> Duration {
    let half_a_token = Duration::try_from_secs_f64(0.5 / rate_per_second).unwrap_or(FIRST_RETRY_AFTER);
    half_a_token.min(FIRST_RETRY_AFTER)
}

/// The waits before each of a GET's `max_retries` retries. The first retry
/// waits for nothing but the key's budget, which paces it as any request (it
/// takes the process's next send): a page answered 503 while the pages after
/// it are in flight is served again as soon as the budget allows, before the
/// list shifts further against them (each shift costs reading the page after
/// it again). The retries after it back off from [`first_retry_after`]. A
/// `Retry-After` the server sends is always waited out, the first retry's too.
struct RetryDelays {
    first: bool,
    backoff: ExponentialBackoff,
}

impl RetryDelays {
    fn new(rate_per_second: f64, max_retries: u32) -> RetryDelays {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(first_retry_after(rate_per_second))
            .with_max_delay(Duration::from_secs(30))
            .with_jitter()
            .with_max_times(max_retries.saturating_sub(1) as usize)
            .build();
        RetryDelays { first: max_retries > 0, backoff }
    }
}

impl Iterator for RetryDelays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if std::mem::take(&mut self.first) {
            return Some(Duration::ZERO);
        }
        self.backoff.next()
    }
}

impl Client {
    /// GET `path` (relative to the base URL, may carry a query) plus `query`.
    /// Retryable failures are retried with backoff, `max_retries` times.
    pub async fn get(&self, path: &str, query: &[(String, String)]) -> Result<ApiResponse, ApiError> {
        let url = self.url(path, query)?;
        let mut delays =
            RetryDelays::new(self.inner.budget.rate_per_second(), self.inner.options.max_retries);
        // A retry goes first among this process's waiting requests (a walk's other
        // pages would otherwise all go before it); refreshes and background keep theirs.
        let mut retrying = None;
        loop {
            let client = retrying.as_ref().unwrap_or(self);
            match client.send(Method::GET, &url, None, None, false, None).await {
                Err(e) if e.is_retryable() => {
                    // A 503 or 408 may say when to come back (`Retry-After`,
                    // seconds or a date): never sooner than that. Later than
                    // any request may wait, the error goes to the caller, who
                    // retries later (the job's `run_after`, the next sync).
                    let asked = match &e {
                        ApiError::Retryable { retry_after, .. } => retry_after.unwrap_or_default(),
                        _ => Duration::ZERO,
                    };
                    let Some(delay) = delays.next().filter(|_| asked <= self.inner.budget.max_wait()) else {
                        return Err(e);
                    };
                    let delay = delay.max(asked);
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "retrying GET");
                    if matches!(self.priority, Priority::Normal | Priority::ReadAhead { .. })
                        && retrying.is_none()
                    {
                        retrying = Some(Client { priority: Priority::Retry, ..self.clone() });
                    }
                    self.inner.counters.retry();
                    let request = describe(&Method::GET, &url);
                    self.unless_cancelled(&request, async {
                        tokio::time::sleep(delay).await;
                        Ok(())
                    })
                    .await?;
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_second_retry_waits_half_a_token_at_the_keys_rate_and_never_more_than_at_the_real_2_a_second() {
        assert_eq!(first_retry_after(2.0), Duration::from_millis(250), "the real key");
        assert_eq!(first_retry_after(20.0), Duration::from_millis(25), "ten times faster: a tenth");
        assert_eq!(first_retry_after(0.5), Duration::from_millis(250), "slower: no longer than at 2/s");
        assert_eq!(first_retry_after(0.0), Duration::from_millis(250), "no rate: the bound");
    }

    #[test]
    fn the_first_retry_waits_for_nothing_then_the_waits_double_with_jitter_up_to_max_retries() {
        let waits: Vec<Duration> = RetryDelays::new(2.0, 4).collect();
        assert_eq!(waits.len(), 4, "{waits:?}");
        assert_eq!(waits[0], Duration::ZERO, "the budget alone paces the first retry");
        let ms = |d: &Duration| d.as_millis();
        // Jitter adds up to the wait itself.
        for (wait, base) in waits[1..].iter().zip([250, 500, 1000]) {
            assert!((base..=2 * base).contains(&ms(wait)), "{waits:?}");
        }
        assert_eq!(RetryDelays::new(2.0, 1).collect::<Vec<_>>(), [Duration::ZERO]);
        assert_eq!(RetryDelays::new(2.0, 0).count(), 0, "max_retries = 0: no retry");
    }
}
