//! The one place that decides when a request may be sent: a pacer per API key
//! in front of every request the key makes. It spends the bucket's burst, then
//! paces at the refill rate, books every send in a [`BudgetStore`] (shared
//! through Postgres by every process using the key), corrects itself from the
//! server's rate-limit headers, and turns 429s into a block all processes
//! honour, growing with each consecutive 429.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::time::Instant;

use super::error::ApiError;
use super::gcra::{Correction, Rule};
use super::headers::{RateLimitHeaders, seconds, seconds_until_unix};
use super::store::BudgetStore;

/// Bookings further ahead than this are clamped, so adding them to an
/// `Instant` cannot overflow (no sane bucket is booked a year ahead).
const FAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// Longest a call to the store may take by default. The Postgres store locks
/// the key's row: a session holding that lock would otherwise stall every
/// request of every process using the key, without a word.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(10);

/// The key's bucket as the server keeps it, and how much of it to use.
#[derive(Debug, Clone, Copy)]
pub struct BudgetOptions {
    pub rate_per_second: f64,
    pub burst: u32,
    /// Share of rate and burst left for other clients of the key (0 ≤ x < 1).
    pub reserved_share: f64,
    /// Longest one request may wait (pacing plus 429 back-off) before it fails.
    pub max_wait: Duration,
}

/// Leave to one send at the booked time.
#[derive(Debug, Clone, Copy)]
pub struct Permit {
    pub sent_at: Instant,
    pub waited: Duration,
}

/// Consecutive 429s of one request; see [`Budget::streak`].
pub struct Streak {
    extra: backon::ExponentialBackoff,
}

impl Streak {
    /// How long to block the key after one more 429, the server having asked
    /// for `server_wait`.
    pub fn next_wait(&mut self, server_wait: Duration) -> Duration {
        server_wait.saturating_add(self.extra.next().unwrap_or_default())
    }
}

pub struct Budget {
    store: Arc<dyn BudgetStore>,
    key: String,
    rule: Rule,
    /// Tokens of the server's bucket left to other clients by `reserved_share`.
    reserved_tokens: f64,
    options: BudgetOptions,
    /// Where this process last saw the bucket booked to; corrections that do
    /// not move past it are not written (they would change nothing).
    booked_until: Mutex<Option<Instant>>,
    /// Longest one call to the store may take; see [`STORE_TIMEOUT`].
    store_timeout: Duration,
}

impl Budget {
    /// `key_fingerprint` names the bucket in the store; the key itself never
    /// reaches the budget.
    pub fn new(store: Arc<dyn BudgetStore>, key_fingerprint: String, options: BudgetOptions) -> Budget {
        let share = 1.0 - options.reserved_share.clamp(0.0, 0.99);
        let usable = (f64::from(options.burst) * share).floor() as u32;
        // One token of the bucket is never planned for: requests leave at
        // exact intervals but reach the server with jitter, and a request
        // arriving a millisecond early at an empty bucket is a 429.
        let capacity = usable.saturating_sub(1).max(1);
        let rule = Rule::new(options.rate_per_second * share, capacity);
        let reserved_tokens = f64::from(options.burst.saturating_sub(usable));
        Budget {
            store,
            key: key_fingerprint,
            rule,
            reserved_tokens,
            options,
            booked_until: Mutex::new(None),
            store_timeout: STORE_TIMEOUT,
        }
    }

    /// Bounds every call to the store by `timeout` instead of [`STORE_TIMEOUT`].
    pub fn with_store_timeout(mut self, timeout: Duration) -> Budget {
        self.store_timeout = timeout;
        self
    }

    pub fn max_wait(&self) -> Duration {
        self.options.max_wait
    }

    /// Waits for this process's turn to send one request. Fails, without
    /// booking anything, when the turn is more than `limit` away.
    pub async fn acquire(&self, request: &str, limit: Duration) -> Result<Permit, ApiError> {
        let asked = Instant::now();
        let reservation = self
            .bounded(self.store.reserve(&self.key, self.rule, limit.as_secs_f64()))
            .await
            .map_err(|source| ApiError::Budget { request: request.to_string(), source })?;
        let wait = seconds(reservation.wait);
        if !reservation.granted {
            return Err(ApiError::RateLimited {
                request: request.to_string(),
                wait: wait.saturating_add(self.options.max_wait.saturating_sub(limit)),
                max_wait: self.options.max_wait,
            });
        }
        self.note_booked(asked + seconds(reservation.booked_ahead).min(FAR));
        if !wait.is_zero() {
            tracing::trace!(budget.wait_ms = wait.as_millis() as u64, "waiting for the key's budget");
            tokio::time::sleep(wait).await;
        }
        Ok(Permit { sent_at: Instant::now(), waited: asked.elapsed() })
    }

    /// Folds the rate-limit headers of a response into the bucket: when the
    /// server has fewer tokens than we booked for, someone else is spending
    /// the key and our bucket moves forward to match.
    pub async fn observe(&self, permit: &Permit, headers: &RateLimitHeaders) {
        let Some(ahead) = self.server_booked_ahead(headers) else { return };
        let server_booked = permit.sent_at + seconds(ahead).min(FAR);
        let known = self.booked_until.lock().ok().and_then(|b| *b);
        // A millisecond of slack: equal estimates need no write.
        if known.is_some_and(|k| server_booked <= k + Duration::from_millis(1)) {
            return;
        }
        let now = Instant::now();
        if server_booked <= now {
            return;
        }
        let correction =
            Correction { tat_at_least: Some((server_booked - now).as_secs_f64()), block_for: None };
        tracing::debug!(
            budget.behind_ms = (server_booked - now).as_millis() as u64,
            "another client is spending the key; slowing down"
        );
        self.write(correction).await;
        self.note_booked(server_booked);
    }

    /// After a 429: nobody using the key may send for `wait`, capped at
    /// `max_wait`: the block is shared by every process through the store and
    /// only moves forward, so one absurd server value (a `Retry-After` of
    /// `1e300`) must not stop the key for longer than any request may wait.
    pub async fn block(&self, wait: Duration) {
        let wait = wait.min(self.options.max_wait).min(FAR);
        self.write(Correction { tat_at_least: None, block_for: Some(wait.as_secs_f64()) }).await;
    }

    /// The 429s of one request: each wait is the server's, plus an extra
    /// that doubles with every consecutive 429 (from one send interval, with
    /// jitter so processes that were blocked together do not return together).
    pub fn streak(&self) -> Streak {
        let interval = seconds(self.rule.interval);
        let extra = ExponentialBuilder::default()
            .with_min_delay(interval)
            .with_factor(2.0)
            .with_max_delay(Duration::from_secs(60).max(interval))
            .with_jitter()
            .without_max_times()
            .build();
        Streak { extra }
    }

    /// How far past the send the server's bucket is booked, as far as its
    /// headers prove: from Remaining, or from Reset when Remaining is
    /// missing. Both headers are rounded (remaining down to a whole
    /// token, reset up to a whole second), so the bound assumes the rounding
    /// went our way: we never slow down more than the server requires. The
    /// shortfall is capped at a full bucket: the server cannot be more than
    /// empty, and a reset in milliseconds or far in the future would
    /// otherwise book the shared bucket (forward only) for a year.
    fn server_booked_ahead(&self, headers: &RateLimitHeaders) -> Option<f64> {
        let burst = f64::from(self.options.burst);
        let from_remaining = headers.remaining.map(|r| burst - (r + 1.0));
        let from_reset = headers
            .reset
            .map(|reset| (seconds_until_unix(reset) - 1.0).max(0.0) * self.options.rate_per_second);
        // Remaining is a count, free of clocks; Reset is compared with our
        // wall clock, so a server clock a minute ahead would make every
        // response look like an empty bucket. Reset only when Remaining is absent.
        let tokens_short = from_remaining.or(from_reset)?.min(burst);
        // The headers count the whole bucket, ours only the usable part: the
        // reserved tokens are others' to spend before we are short of any.
        let ours_short = tokens_short - self.reserved_tokens;
        (ours_short > 0.0).then_some(ours_short * self.rule.interval)
    }

    fn note_booked(&self, at: Instant) {
        if let Ok(mut booked) = self.booked_until.lock() {
            *booked = Some(booked.map_or(at, |b| b.max(at)));
        }
    }

    /// One call to the store, failing once it has taken `store_timeout`. A
    /// booking abandoned this way may still land later: that only makes the
    /// budget more careful, never less.
    async fn bounded<T>(
        &self,
        call: impl std::future::Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        match tokio::time::timeout(self.store_timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(anyhow::anyhow!(
                "the budget store did not answer within {:.1}s (is a session holding the key's row \
                 in tokportal.api_budgets locked?)",
                self.store_timeout.as_secs_f64()
            )),
        }
    }

    async fn write(&self, correction: Correction) {
        // Best effort: if the store is down the next reservation fails loudly.
        if let Err(e) = self.bounded(self.store.correct(&self.key, correction)).await {
            tracing::warn!(error = format!("{e:#}"), "Failed to record a budget correction");
        }
    }
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
