//! What the queue reads and writes of a job: one to insert ([`NewJob`]), one
//! as `worker jobs` shows it ([`Job`]), one held by a claim ([`Claimed`]), and
//! the state a send leaves it in ([`Verdict`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::FromRow;

/// A job to insert. `idempotency_key` and `ordering_key` default in the table.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub method: String,
    pub path: String,
    pub body: Option<String>,
    pub idempotency_key: Option<String>,
    pub ordering_key: Option<String>,
}

/// A job as `worker jobs` shows it.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Job {
    pub id: i64,
    pub status: String,
    pub method: String,
    pub path: String,
    pub body: Option<String>,
    pub idempotency_key: String,
    pub ordering_key: Option<String>,
    pub attempts: i32,
    pub claims: i32,
    pub run_after: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
    pub first_sent_at: Option<DateTime<Utc>>,
    pub response_status: Option<i32>,
    pub response_body: Option<String>,
    pub replayed: Option<bool>,
    pub credits_charged: Option<f64>,
    pub error_code: Option<String>,
    pub last_error: Option<String>,
    pub error_details: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A job this worker holds until `lease` ends; `claim` is the attempt's number.
#[derive(Debug, Clone, FromRow)]
pub struct Claimed {
    pub id: i64,
    pub claim: i32,
    pub attempts: i32,
    pub method: String,
    pub path: String,
    pub body: Option<String>,
    pub idempotency_key: String,
    /// `first_sent_at` when claimed, put back by [`Verdict::Release`].
    pub previous_first_sent_at: Option<DateTime<Utc>>,
    /// How many sends of this job the API answered `IDEMPOTENCY_KEY_IN_PROGRESS`.
    pub in_progress_answers: i32,
}

/// The job's new state after a send.
#[derive(Debug, Clone)]
pub enum Verdict {
    Succeeded {
        status: i32,
        body: Option<String>,
        replayed: bool,
        credits_charged: Option<String>,
    },
    /// Queued again after `after`; `counted` adds one to `attempts`.
    Retry {
        after: Duration,
        counted: bool,
        code: Option<String>,
        error: String,
    },
    Failed {
        status: Option<i32>,
        code: Option<String>,
        error: String,
        details: Option<Value>,
    },
    /// Back to the queue as it was before the claim, `first_sent_at`
    /// included: the worker was stopping before the send, or the API refused
    /// the key (a 401 or a 403 on its scope: the request was never executed,
    /// so a job whose only sends were refused can still be cancelled).
    Release {
        first_sent_at: Option<DateTime<Utc>>,
    },
}
