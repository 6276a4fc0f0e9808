//! All SQL of `tokportal.mutation_attempts`: one row per send of a job. The
//! row is written by the job's own statements (a claim inserts it, a record
//! fills it in) so a send is never recorded apart from its job's state: those
//! statements take their `mutation_attempts` part from here.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryScalar;
use sqlx::{FromRow, PgExecutor, Postgres};

/// One send of a job.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Attempt {
    pub attempt: i32,
    /// The key it was sent under (None: recorded before keys were kept).
    pub idempotency_key: Option<String>,
    pub sent_at: DateTime<Utc>,
    pub duration_ms: Option<i32>,
    pub http_status: Option<i32>,
    pub error_code: Option<String>,
    pub replayed: Option<bool>,
    pub request_id: Option<String>,
    pub outcome: Option<String>,
    pub error: Option<String>,
}

/// What one send brought back, for the attempts table.
#[derive(Debug, Clone, Default)]
pub struct SendRecord {
    pub duration_ms: i32,
    pub http_status: Option<i32>,
    pub error_code: Option<String>,
    pub replayed: Option<bool>,
    pub request_id: Option<String>,
    pub outcome: &'static str,
    pub error: Option<String>,
}

/// The attempt a claim makes, as a part of the claim's statement: one row per
/// job of its `claimed` part (`id`, `claim`, `idempotency_key`).
macro_rules! insert_sent {
    () => {
        "INSERT INTO tokportal.mutation_attempts (job_id, attempt, idempotency_key)
         SELECT id, claim, idempotency_key FROM claimed"
    };
}
pub(super) use insert_sent;

/// How many times the API answered `IDEMPOTENCY_KEY_IN_PROGRESS` to the job
/// of a claim's `claimed` part, as a scalar subquery of the claim's statement:
/// the wait before the next send doubles with it.
macro_rules! count_in_progress {
    () => {
        "SELECT count(*)::int FROM tokportal.mutation_attempts a
         WHERE a.job_id = claimed.id AND a.error_code = 'IDEMPOTENCY_KEY_IN_PROGRESS'"
    };
}
pub(super) use count_in_progress;

/// What the send brought back, as a part of the record's statement: the
/// attempt is job `$1`, number `$2`; [`bind_sent`] binds `$3` to `$9`.
macro_rules! record_sent {
    () => {
        "UPDATE tokportal.mutation_attempts
            SET duration_ms = $3, http_status = $4, error_code = $5, replayed = $6, request_id = $7,
                outcome = $8, error = $9
            WHERE job_id = $1 AND attempt = $2"
    };
}
pub(super) use record_sent;

/// Binds `send` to the parameters of [`record_sent`], `$3` to `$9`.
pub(super) fn bind_sent<'q>(
    query: QueryScalar<'q, Postgres, i64, PgArguments>,
    send: &'q SendRecord,
) -> QueryScalar<'q, Postgres, i64, PgArguments> {
    query
        .bind(send.duration_ms)
        .bind(send.http_status)
        .bind(&send.error_code)
        .bind(send.replayed)
        .bind(&send.request_id)
        .bind(send.outcome)
        .bind(&send.error)
}

pub async fn attempts(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Vec<Attempt>> {
    sqlx::query_as(
        "SELECT attempt, idempotency_key, sent_at, duration_ms, http_status, error_code, replayed, request_id, outcome, error
         FROM tokportal.mutation_attempts WHERE job_id = $1 ORDER BY attempt",
    )
    .bind(id)
    .fetch_all(db)
    .await
}
