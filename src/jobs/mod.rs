//! The mutation queue: [`queue`] (all SQL of `mutation_jobs` and
//! `mutation_attempts`), [`replay`] (one job: claim, send, record —
//! [`run_next_job`]), [`drain`] (every due job, several at once),
//! [`heartbeat`] (a claim kept alive while its send is in flight),
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
pub mod heartbeat;
pub mod listen;
pub mod prune;
pub mod queue;
pub mod replay;
pub mod retry;
pub mod validate;

use std::time::Duration;

pub use drain::{DrainReport, drain};
pub use replay::{Outcome, Replayer, run_next_job, run_one_job};

/// The queue's knobs (`jobs.*`), in the types the queue uses.
#[derive(Debug, Clone)]
pub struct Settings {
    pub key_lifetime: Duration,
    pub expiry_margin: Duration,
    /// How long a claim lasts without being renewed: a live worker renews it
    /// every third of it while its send is in flight. A dead worker's claim
    /// ends sooner, with its Postgres session (`crate::db::owner`); the lease
    /// ends the claim of a worker whose session lives on but that stopped renewing.
    pub lease: Duration,
    /// The longest one send may take (`api.timeout_secs` + `api.max_wait_secs`
    /// and a margin): a bound on a send that hangs, since the heartbeat would
    /// otherwise hold its job forever.
    pub send_timeout: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    pub in_progress_delay: Duration,
}

/// The longest wait between two `IDEMPOTENCY_KEY_IN_PROGRESS` answers: the
/// wait doubles from `in_progress_delay` up to this.
pub const IN_PROGRESS_MAX_DELAY: Duration = Duration::from_secs(300);

impl Settings {
    /// How long after its first send a job with an unknown outcome may still
    /// be sent: the key's lifetime minus the margin.
    pub fn fresh_for(&self) -> Duration {
        self.key_lifetime.saturating_sub(self.expiry_margin)
    }

    /// How often a claim is renewed while its send is in flight: three times
    /// a lease, so one slow renewal does not let the claim end.
    pub fn heartbeat_every(&self) -> Duration {
        self.lease / 3
    }

    /// The longest a job waits before its next send: what the server asks
    /// (`Retry-After`, `retry_after_seconds`) is honoured up to the key's
    /// lifetime, since a later send could only expire, and an absurd value
    /// (`1e300`) must still make an interval Postgres can store.
    pub fn longest_wait(&self) -> Duration {
        self.key_lifetime.max(self.backoff_max)
    }
}
