//! The one place that decides when a request may be sent: a pacer per API key
//! in front of every request the key makes. It spends the bucket's burst, then
//! paces at the refill rate, books every send in a [`BudgetStore`] (shared
//! through Postgres by every process using the key), corrects itself from the
//! server's rate-limit headers, and turns 429s into a block all processes
//! honour, growing with each consecutive 429. The bucket's size is the
//! server's (`X-RateLimit-Limit`) once a response has told it.
//!
//! Booking ahead: while the bucket holds plenty of tokens, one call to the
//! store books a small batch of sends, handed out here without asking the
//! store again (one Postgres round trip per batch instead of per request).
//!
//! Within the process, the sends booked go to waiting requests by priority
//! (see [`super::turns`]): a webhook refresh goes ahead of walk pages, within
//! its share. A long 429 block is probed once per probe interval across every
//! process of the key instead of being waited out (see [`super::gcra`]).
//!
//! Files: `shape` (options, bucket), `acquire` (plan, batches, held sends),
//! `corrections` (headers, 429 blocks, probe lift), `streak` (429 back-off).
//! Tests, all under paused time: `tests` (pace, bounded wait, 429 blocks),
//! `batch_tests` (booking ahead), `correction_tests` (the server's headers),
//! `priority_tests` (refreshes ahead of the walk), `probe_tests` (long blocks),
//! `background_tests` (the continuous mirror behind jobs and refreshes).

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::store::BudgetStore;
use super::turns::Turns;
use shape::Shape;

mod acquire;
mod corrections;
mod shape;
mod streak;

pub use acquire::Permit;
pub use shape::{BudgetOptions, MAX_BATCH};
pub use streak::Streak;

/// Bookings further ahead than this are clamped, so adding them to an
/// `Instant` cannot overflow (no sane bucket is booked a year ahead).
const FAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// Longest a call to the store may take by default. The Postgres store locks
/// the key's row: a session holding that lock would otherwise stall every
/// request of every process using the key, without a word.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a long 429 block is probed by default (`api.probe_interval_secs`).
pub const PROBE_INTERVAL: Duration = Duration::from_secs(30);

pub struct Budget {
    store: Arc<dyn BudgetStore>,
    key: String,
    options: BudgetOptions,
    state: Mutex<State>,
    /// Whether the server's `X-RateLimit-Limit` has been reported (once).
    told_server_burst: AtomicBool,
    /// Longest one call to the store may take; see [`STORE_TIMEOUT`].
    store_timeout: Duration,
    /// How often a long block is probed; see [`PROBE_INTERVAL`].
    probe_every: Duration,
    /// Bumped when sends are handed out, to wake the requests given one.
    handed_out: watch::Sender<u64>,
    /// Bumped when a probe of this process lifts a block, so the requests
    /// waiting for it here go at once (other processes see it in the store).
    lifted: watch::Sender<u64>,
}

#[derive(Debug)]
struct State {
    shape: Shape,
    /// Where this process last saw the bucket booked to: never later than the
    /// store's `tat` (which only moves forward). Corrections that do not move
    /// past it are not written (they would change nothing).
    booked_until: Option<Instant>,
    /// Sends booked by a batch and not handed out yet.
    held: u32,
    /// The size of the next batch: doubles each time a batch is granted
    /// whole, back to 1 when sends held expire unused (so a client too slow
    /// to spend its batches books one or two sends at a time and wastes at
    /// most one send per two bookings).
    next_batch: u32,
    /// A batch is being booked: concurrent bookings take one send each, so
    /// no more than one batch is ever held.
    batch_in_flight: bool,
    /// Sends booked and the requests waiting for them, by priority.
    turns: Turns,
}

impl State {
    /// Hands out the sends whose time has come; those nobody waits for (their
    /// request was dropped) are held, so they are not lost. Whether anyone was
    /// given a send.
    fn hand_out(&mut self, now: Instant) -> bool {
        let (handed, unclaimed) = self.turns.dispatch(now);
        self.held += unclaimed;
        handed
    }
}

impl Budget {
    /// `key_fingerprint` names the bucket in the store; the key itself never
    /// reaches the budget.
    pub fn new(store: Arc<dyn BudgetStore>, key_fingerprint: String, options: BudgetOptions) -> Budget {
        let state = State {
            shape: Shape::new(&options, options.burst),
            booked_until: None,
            held: 0,
            next_batch: 1,
            batch_in_flight: false,
            turns: Turns::new(),
        };
        Budget {
            store,
            key: key_fingerprint,
            options,
            state: Mutex::new(state),
            told_server_burst: AtomicBool::new(false),
            store_timeout: STORE_TIMEOUT,
            probe_every: PROBE_INTERVAL,
            handed_out: watch::Sender::new(0),
            lifted: watch::Sender::new(0),
        }
    }

    /// Probes a long block every `every` instead of [`PROBE_INTERVAL`].
    pub fn with_probe_interval(mut self, every: Duration) -> Budget {
        self.probe_every = every.max(Duration::from_millis(1));
        self
    }

    /// Bounds every call to the store by `timeout` instead of [`STORE_TIMEOUT`].
    pub fn with_store_timeout(mut self, timeout: Duration) -> Budget {
        self.store_timeout = timeout;
        self
    }

    /// The fingerprint of the key whose budget this is.
    pub fn key_fingerprint(&self) -> &str {
        &self.key
    }

    pub fn max_wait(&self) -> Duration {
        self.options.max_wait
    }

    /// The key's rate, requests a second (`api.rate_per_second`).
    pub fn rate_per_second(&self) -> f64 {
        self.options.rate_per_second
    }

    /// The share (0 to 1) of the bucket that holds tokens now, as this process
    /// last saw it booked (another process's sends since are not known); the
    /// whole bucket before its first booking.
    pub fn share_held(&self) -> f64 {
        let state = self.state();
        let full = state.shape.rule.tolerance + state.shape.rule.interval;
        let ahead =
            state.booked_until.map_or(0.0, |b| b.saturating_duration_since(Instant::now()).as_secs_f64());
        if full > 0.0 { ((full - ahead) / full).clamp(0.0, 1.0) } else { 0.0 }
    }

    /// The state is only ever changed by short, panic-free sections, so a
    /// poisoned lock still holds consistent data.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
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
}

// The tests name these through `use super::*`, as when the budget was one file.
#[cfg(test)]
use super::{error::ApiError, gcra::Correction, headers::RateLimitHeaders, turns::Priority};

#[cfg(test)]
mod tests;

#[cfg(test)]
mod batch_tests;

#[cfg(test)]
mod correction_tests;

#[cfg(test)]
mod priority_tests;

#[cfg(test)]
mod probe_tests;

#[cfg(test)]
mod background_tests;
