//! What a run counts ([`Tally`]): pages, items and what became of them,
//! and what the key's client spent on it. Stored with each checkpoint.

use crate::api::CounterSnapshot;

/// Counters a run accumulates; stored with each checkpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    pub pages: u64,
    pub rereads: u64,
    pub items: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deleted: u64,
    pub delete_checks: u64,
    /// Missing rows left live unchecked (more than one run may check).
    pub delete_unchecked: u64,
    /// Rows the delete guard kept live (more than `sync.max_delete_fraction`);
    /// counted in the metrics, not stored.
    pub delete_refused: u64,
    /// Items or bundles set aside in `sync_problems`.
    pub problems: u64,
    pub requests: u64,
    pub rate_limited: u64,
    pub budget_wait_secs: f64,
}

impl Tally {
    /// Copies what the client spent since `before` (requests, 429s, time
    /// waited for budget) into the tally.
    pub fn spent(&mut self, now: &CounterSnapshot, before: &CounterSnapshot) {
        let spent = now.since(before);
        self.requests = spent.requests;
        self.rate_limited = spent.rate_limited;
        self.budget_wait_secs = spent.budget_wait.as_secs_f64();
    }
}
