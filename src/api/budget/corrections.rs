//! Corrections to the bucket: the server's rate-limit headers (its size and
//! someone else spending the key), 429 blocks shared through the store, and
//! the lift when a probe gets through.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use super::shape::Shape;
use super::{Budget, FAR, Permit};
use crate::api::gcra::Correction;
use crate::api::headers::{RateLimitHeaders, seconds, seconds_until_unix};

impl Budget {
    /// The size of the key's bucket the budget plans with: `api.burst`, or
    /// the server's `X-RateLimit-Limit` once a response carried one.
    pub fn burst(&self) -> u32 {
        self.state().shape.burst
    }

    /// Folds the rate-limit headers of a response into the bucket: the
    /// server's bucket size, and, when the server has fewer tokens than we
    /// booked for, someone else is spending the key and our bucket moves
    /// forward to match.
    pub async fn observe(&self, permit: &Permit, headers: &RateLimitHeaders) {
        if let Some(limit) = headers.limit {
            self.follow_server_burst(limit);
        }
        let Some(ahead) = self.server_booked_ahead(headers) else { return };
        let (known, held_ahead) = {
            let state = self.state();
            // Sends held from a batch are booked, but the server has not seen them.
            (state.booked_until, seconds(state.shape.rule.interval).saturating_mul(state.held))
        };
        let server_booked = permit.sent_at + seconds(ahead).saturating_add(held_ahead).min(FAR);
        // A millisecond of slack: equal estimates need no write.
        if known.is_some_and(|k| server_booked <= k + Duration::from_millis(1)) {
            return;
        }
        let now = Instant::now();
        if server_booked <= now {
            return;
        }
        let correction = Correction {
            tat_at_least: Some((server_booked - now).as_secs_f64()),
            block_for: None,
            probe_in: None,
        };
        tracing::debug!(
            budget.behind_ms = (server_booked - now).as_millis() as u64,
            "another client is spending the key; slowing down"
        );
        self.write(correction).await;
        self.note_booked(server_booked);
    }

    /// From the first response on, the bucket is the size the server says it
    /// is: a key whose limit differs from `api.burst` would otherwise be
    /// overrun (429s) or underused for as long as the process runs.
    fn follow_server_burst(&self, limit: u32) {
        if limit == 0 {
            return;
        }
        let mut state = self.state();
        if state.shape.burst == limit {
            return;
        }
        let before = state.shape.burst;
        state.shape = Shape::new(&self.options, limit);
        // Held sends were planned for the old bucket; let them go.
        state.held = 0;
        state.next_batch = 1;
        drop(state);
        if self.told_server_burst.swap(true, Ordering::Relaxed) {
            tracing::debug!(
                budget.burst = limit,
                budget.burst_before = before,
                "the server's bucket changed size"
            );
        } else {
            tracing::warn!(
                budget.configured_burst = self.options.burst,
                budget.server_burst = limit,
                "the server's bucket holds {limit} requests (X-RateLimit-Limit), not the {} of api.burst; \
                 using the server's figure",
                self.options.burst
            );
        }
    }

    /// After a 429: nobody using the key may send for `wait`, capped at
    /// `max_wait`: the block is shared by every process through the store and
    /// only moves forward, so one absurd server value (a `Retry-After` of
    /// `1e300`) must not stop the key for longer than any request may wait.
    /// A block longer than the probe interval is probed: the first probe
    /// goes one interval from now.
    pub async fn block(&self, wait: Duration) {
        let wait = wait.min(self.options.max_wait).min(FAR);
        {
            // Sends held from a batch would go out through the block.
            let mut state = self.state();
            state.held = 0;
            state.next_batch = 1;
        }
        let probe_in = Some(self.probe_every.as_secs_f64());
        self.write(Correction { tat_at_least: None, block_for: Some(wait.as_secs_f64()), probe_in }).await;
    }

    /// A probe got an answer other than 429: the key's block ends for every
    /// process. The server's bucket is taken as empty (it let one request
    /// through, nothing more is known), so the key is paced from one interval
    /// on, and never booked less far ahead than it was.
    pub async fn lift(&self) {
        let rule = self.state().shape.rule;
        let ahead = rule.tolerance + rule.interval;
        if let Err(e) = self.bounded(self.store.lift(&self.key, ahead)).await {
            tracing::warn!(
                error = format!("{e:#}"),
                "Failed to lift the key's block after a probe got through"
            );
            return;
        }
        tracing::info!("a probe got through: the key's 429 block is lifted for every process");
        self.note_booked(Instant::now() + seconds(ahead).min(FAR));
        self.lifted.send_modify(|n| *n += 1);
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
        let shape = self.state().shape;
        let burst = f64::from(shape.burst);
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
        let ours_short = tokens_short - shape.reserved_tokens;
        (ours_short > 0.0).then_some(ours_short * shape.rule.interval)
    }

    fn note_booked(&self, at: Instant) {
        let mut state = self.state();
        state.booked_until = Some(state.booked_until.map_or(at, |b| b.max(at)));
    }

    async fn write(&self, correction: Correction) {
        // Best effort: if the store is down the next reservation fails loudly.
        if let Err(e) = self.bounded(self.store.correct(&self.key, correction)).await {
            tracing::warn!(error = format!("{e:#}"), "Failed to record a budget correction");
        }
    }
}
