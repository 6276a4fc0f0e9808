//! Where the budget of each key lives: the [`BudgetStore`] trait, and the
//! in-memory store for a process that has no database. The Postgres store,
//! shared by every process using a key, lives outside `api/` (it is SQL).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use tokio::time::Instant;

use super::gcra::{self, Correction, Reservation, Rule, Slot};

/// A boxed future, so the budget can hold any store behind `dyn`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One bucket per key fingerprint. Implementations apply [`gcra::reserve`]
/// and [`gcra::correct`] atomically on their own clock.
pub trait BudgetStore: Send + Sync {
    /// Books the earliest send time for one request of `key`, unless it is more
    /// than `limit` seconds away; or `count` requests at once when all of them
    /// may go now; or, while a block has more than `probe_every` seconds left,
    /// the block's one probe or nothing (see [`gcra::reserve`]).
    fn reserve<'a>(
        &'a self,
        key: &'a str,
        rule: Rule,
        limit: f64,
        count: u32,
        probe_every: f64,
    ) -> BoxFuture<'a, anyhow::Result<Reservation>>;

    /// Moves the bucket of `key` forward (never back).
    fn correct<'a>(&'a self, key: &'a str, correction: Correction) -> BoxFuture<'a, anyhow::Result<()>>;

    /// Ends the block of `key` after a probe got through (see [`gcra::lift`]).
    fn lift<'a>(&'a self, key: &'a str, tat_at_least: f64) -> BoxFuture<'a, anyhow::Result<()>>;
}

/// A store for one process: the buckets live in a map. Its clock is tokio's,
/// so tests can run it under paused time.
pub struct MemoryStore {
    epoch: Instant,
    slots: Mutex<HashMap<String, Slot>>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore { epoch: Instant::now(), slots: Mutex::new(HashMap::new()) }
    }

    fn with_slot<T>(&self, key: &str, f: impl FnOnce(&mut Slot, f64) -> T) -> anyhow::Result<T> {
        let now = self.epoch.elapsed().as_secs_f64();
        let mut slots =
            self.slots.lock().map_err(|_| anyhow::anyhow!("the in-memory budget was poisoned"))?;
        Ok(f(slots.entry(key.to_string()).or_default(), now))
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl BudgetStore for MemoryStore {
    fn reserve<'a>(
        &'a self,
        key: &'a str,
        rule: Rule,
        limit: f64,
        count: u32,
        probe_every: f64,
    ) -> BoxFuture<'a, anyhow::Result<Reservation>> {
        Box::pin(async move {
            self.with_slot(key, |slot, now| gcra::reserve(slot, now, rule, limit, count, probe_every))
        })
    }

    fn correct<'a>(&'a self, key: &'a str, correction: Correction) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move { self.with_slot(key, |slot, now| gcra::correct(slot, now, correction)) })
    }

    fn lift<'a>(&'a self, key: &'a str, tat_at_least: f64) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move { self.with_slot(key, |slot, now| gcra::lift(slot, now, tat_at_least)) })
    }
}
