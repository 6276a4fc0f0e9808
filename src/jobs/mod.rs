//! The mutation queue: [`queue`] (all SQL of `mutation_jobs` and
//! `mutation_attempts`), [`replay`] (one job: claim, send, record —
//! [`run_next_job`]), [`drain`] (every due job, several at once),
//! [`listen`] (the daemon's loop around it, woken by NOTIFY), [`prune`]
//! (finished jobs past their retention), [`classify`] (what an answer means
//! for a job), [`retry`] (when a person may send a job again, and under which
//! key) and [`validate`] (what `worker enqueue` accepts and the replayer
//! checks again before every send).
//!
//! A new mutation type: its path in `validate` (what may be enqueued) and,
//! when its answers mean something new, a line in `classify`.

pub mod classify;
pub mod drain;
pub mod listen;
pub mod prune;
pub mod queue;
pub mod replay;
pub mod retry;
pub mod validate;

use std::time::Duration;

pub use drain::{DrainReport, drain};
pub use replay::{Outcome, Replayer, run_next_job};

/// The queue's knobs (`jobs.*`), in the types the queue uses.
#[derive(Debug, Clone)]
pub struct Settings {
    pub key_lifetime: Duration,
    pub expiry_margin: Duration,
    pub lease: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    pub in_progress_delay: Duration,
}

impl Settings {
    /// How long after its first send a job with an unknown outcome may still
    /// be sent: the key's lifetime minus the margin.
    pub fn fresh_for(&self) -> Duration {
        self.key_lifetime.saturating_sub(self.expiry_margin)
    }

    /// The longest one send may take: 90% of the lease, so the outcome is
    /// recorded before another worker may claim the job.
    pub fn send_deadline(&self) -> Duration {
        self.lease.mul_f64(0.9)
    }
}
