//! The per-key token bucket and the numbers it puts in the rate-limit headers.
//! Pure arithmetic over instants the caller passes in, so tests drive time directly.

use std::time::{Duration, Instant};

/// Float error must never turn "exactly full" into one more second of wait.
const EPSILON: f64 = 1e-9;

#[derive(Debug, Clone)]
pub struct Bucket {
    capacity: f64,
    rate: f64,
    tokens: f64,
    updated: Instant,
}

/// What the headers of one authenticated response say about the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// `X-RateLimit-Limit`: the bucket capacity.
    pub limit: u32,
    /// `X-RateLimit-Remaining`: whole tokens left after this request.
    pub remaining: u32,
    /// Exactly how long until the bucket is full again (`X-RateLimit-Reset` is
    /// now plus this, rounded up as a whole, see [`super::retry_after::reset_at`]).
    pub full_in: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed(Snapshot),
    /// Refused; `retry_after_secs` is when one token will be there (whole seconds, at least 1).
    Limited {
        snapshot: Snapshot,
        retry_after_secs: u64,
    },
}

impl Bucket {
    /// A full bucket. `rate` is tokens per second and must be positive.
    pub fn new(capacity: u32, rate: f64, now: Instant) -> Self {
        Bucket { capacity: f64::from(capacity), rate, tokens: f64::from(capacity), updated: now }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.updated = self.updated.max(now);
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, now: Instant) -> Decision {
        self.refill(now);
        if self.tokens + EPSILON >= 1.0 {
            self.tokens = (self.tokens - 1.0).max(0.0);
            Decision::Allowed(self.snapshot())
        } else {
            let wait = ((1.0 - self.tokens) / self.rate - EPSILON).ceil().max(1.0);
            Decision::Limited { snapshot: self.snapshot(), retry_after_secs: wait as u64 }
        }
    }

    /// Empties the bucket so that it stays empty for `hold` (a 429 storm):
    /// the balance goes negative and refills from there at the normal rate.
    pub fn drain(&mut self, now: Instant, hold: Duration) {
        self.refill(now);
        self.tokens = -(hold.as_secs_f64() * self.rate);
    }

    /// Whole tokens in the bucket at `now`, without taking any.
    pub fn tokens_at(&mut self, now: Instant) -> f64 {
        self.refill(now);
        self.tokens
    }

    pub fn snapshot(&self) -> Snapshot {
        let remaining = (self.tokens + EPSILON).floor().max(0.0) as u32;
        let full_in = ((self.capacity - self.tokens) / self.rate - EPSILON).max(0.0);
        Snapshot {
            limit: self.capacity as u32,
            remaining,
            full_in: Duration::try_from_secs_f64(full_in).unwrap_or(Duration::MAX),
        }
    }
}
