//! Counters of what a client spent: requests sent, 429s received, retries and
//! time spent waiting for budget. A sync run stores the difference of two
//! snapshots in its `sync_runs` row. Next to them, one gauge: the sends the
//! budget has booked ahead and not made yet. Beside them, the answers by HTTP
//! status, which the daemon's metrics read at each scrape.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Counters {
    requests: AtomicU64,
    rate_limited: AtomicU64,
    retries: AtomicU64,
    budget_wait_micros: AtomicU64,
    /// Answers received, by HTTP status.
    responses: Mutex<BTreeMap<u16, u64>>,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// HTTP requests sent (each attempt counts).
    pub requests: u64,
    /// 429 responses received.
    pub rate_limited: u64,
    /// GETs sent again after a retryable failure.
    pub retries: u64,
    /// Time spent waiting for the budget (pacing and 429 back-off).
    pub budget_wait: Duration,
    /// Tokens booked ahead: sends the budget booked in a batch and has not
    /// made yet (a gauge, not a count: `since` keeps the later figure).
    pub booked_ahead: u32,
}

impl Counters {
    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn response(&self, status: u16) {
        *self.responses.lock().unwrap_or_else(PoisonError::into_inner).entry(status).or_default() += 1;
    }

    /// Answers received so far, by HTTP status, in status order.
    pub fn responses(&self) -> Vec<(u16, u64)> {
        let counts = self.responses.lock().unwrap_or_else(PoisonError::into_inner);
        counts.iter().map(|(status, n)| (*status, *n)).collect()
    }

    pub(crate) fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn waited(&self, wait: Duration) {
        let micros = u64::try_from(wait.as_micros()).unwrap_or(u64::MAX);
        self.budget_wait_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The counts; `booked_ahead` is the budget's and is filled in by
    /// `Client::counters`.
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            budget_wait: Duration::from_micros(self.budget_wait_micros.load(Ordering::Relaxed)),
            booked_ahead: 0,
        }
    }
}

impl CounterSnapshot {
    /// What was spent between `earlier` and `self`.
    pub fn since(&self, earlier: &CounterSnapshot) -> CounterSnapshot {
        CounterSnapshot {
            requests: self.requests - earlier.requests,
            rate_limited: self.rate_limited - earlier.rate_limited,
            retries: self.retries - earlier.retries,
            budget_wait: self.budget_wait.saturating_sub(earlier.budget_wait),
            booked_ahead: self.booked_ahead,
        }
    }
}
