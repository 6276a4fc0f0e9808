//! The key's bucket: the options it is configured with, and the [`Shape`]
//! this process plans for, batch size included.

use std::time::Duration;

use crate::api::gcra::Rule;

/// Most sends one booking may take at once. Sends booked but never made are
/// lost to every other client of the key until the bucket refills, so the
/// batch is kept small (and see [`BATCH_SHARE`]); eight already takes a
/// Postgres round trip (~2 ms) off seven requests out of eight.
pub const MAX_BATCH: u32 = 8;

/// A batch never holds more than this fraction of the bucket: with the
/// documented bucket (120) at most 7 sends, and a bucket under 32 books one
/// request at a time.
const BATCH_SHARE: u32 = 16;

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

/// The bucket as this process plans for it: sized by `api.burst` until the
/// server says otherwise.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shape {
    /// The whole bucket, every client's: `api.burst` or `X-RateLimit-Limit`.
    pub(super) burst: u32,
    pub(super) rule: Rule,
    /// Tokens of the bucket left to other clients by `reserved_share`.
    pub(super) reserved_tokens: f64,
    /// Most sends one booking may take; 1 books one request at a time.
    pub(super) max_batch: u32,
}

impl Shape {
    pub(super) fn new(options: &BudgetOptions, burst: u32) -> Shape {
        let share = 1.0 - options.reserved_share.clamp(0.0, 0.99);
        let usable = (f64::from(burst) * share).floor() as u32;
        // One token of the bucket is never planned for: requests leave at
        // exact intervals but reach the server with jitter, and a request
        // arriving a millisecond early at an empty bucket is a 429.
        let capacity = usable.saturating_sub(1).max(1);
        Shape {
            burst,
            rule: Rule::new(options.rate_per_second * share, capacity),
            reserved_tokens: f64::from(burst.saturating_sub(usable)),
            max_batch: (capacity / BATCH_SHARE).clamp(1, MAX_BATCH),
        }
    }
}
