//! All SQL of `tokportal.mutation_jobs`. Claims take due jobs with `FOR
//! UPDATE SKIP LOCKED`, written on the claiming process's owner session
//! (`crate::db::owner`) whose key they record, with a short lease [`renew`]ed
//! while the send is in flight: a claim ends when its owner's session ends
//! (the process died) or its lease ends unrenewed (`claim_ended!`).
//! An outcome is written only by the claim
//! that is still current (`claims` = the claim's number, status `running`),
//! so a worker whose lease ended cannot overwrite what another worker
//! recorded since. A claim and a record also write the job's attempt, in the
//! same statement, with the SQL of `attempts.rs` (all SQL of
//! `tokportal.mutation_attempts`); `job.rs` holds the types both read and write.

mod attempts;
mod job;

use std::time::Duration;

use sqlx::{AssertSqlSafe, PgExecutor};

use crate::db::owner::{Owner, session_ended};

pub use attempts::{Attempt, SendRecord, attempts};
pub use job::{Claimed, Job, NewJob, Verdict};

/// SQL true for a `running` job whose claim ended: its lease passed without
/// renewal, or the session of the process that claimed it is gone.
macro_rules! claim_ended {
    () => {
        concat!("(locked_until <= now() OR ", session_ended!("claimed_by"), ")")
    };
}

/// The columns of [`Job`], as a literal so queries stay `&'static str`.
macro_rules! job_columns {
    () => {
        "id, status, method, path, body, idempotency_key, ordering_key, attempts, claims, \
         run_after, locked_until, first_sent_at, response_status, response_body, replayed, \
         credits_charged::float8 AS credits_charged, error_code, last_error, error_details, created_at, finished_at"
    };
}

// After the macros, which it uses.
mod read;
pub use read::{depth, due, get, list};

pub async fn insert(db: impl PgExecutor<'_>, job: &NewJob) -> sqlx::Result<Job> {
    let sql = concat!(
        "INSERT INTO tokportal.mutation_jobs (method, path, body, idempotency_key, ordering_key) \
         VALUES ($1, $2, $3, COALESCE($4, gen_random_uuid()::text), $5) RETURNING ",
        job_columns!(),
        ""
    );
    sqlx::query_as(sql)
        .bind(&job.method)
        .bind(&job.path)
        .bind(&job.body)
        .bind(&job.idempotency_key)
        .bind(&job.ordering_key)
        .fetch_one(db)
        .await
}

/// Claims the next due job on the process's owner session, recording its
/// key (`crate::db::owner`): queued and due, or running with its claim ended
/// (its worker died, or stopped renewing), never one whose first send is
/// older than `fresh_for` (see [`expire_stale`]) nor one with an earlier
/// unfinished job of the same ordering key. Opens the claim's attempt row;
/// `first_sent_at` is left to [`record_first_send`], right before the
/// request actually leaves.
pub async fn claim(
    owner: &Owner,
    lease: Duration,
    fresh_for: Duration,
    only: Option<i64>,
) -> anyhow::Result<Option<Claimed>> {
    let mut session = owner.session().await?;
    let key = session.key();
    let claimed = sqlx::query_as(concat!(
        "WITH next AS (
            SELECT j.id
            FROM tokportal.mutation_jobs j
            WHERE ((j.status = 'queued' AND j.run_after <= now())
                   OR (j.status = 'running' AND ",
        claim_ended!(),
        "))
              AND (j.first_sent_at IS NULL OR j.first_sent_at > now() - make_interval(secs => $2))
              AND ($4::bigint IS NULL OR j.id = $4)
              AND NOT EXISTS (
                  SELECT 1 FROM tokportal.mutation_jobs e
                  WHERE e.ordering_key = j.ordering_key AND e.id < j.id
                    AND e.status IN ('queued', 'running'))
            ORDER BY j.run_after, j.id
            LIMIT 1
            FOR UPDATE OF j SKIP LOCKED
        ), claimed AS (
            UPDATE tokportal.mutation_jobs j
            SET status = 'running', claims = j.claims + 1, claimed_by = $3,
                locked_until = now() + make_interval(secs => $1)
            FROM next WHERE j.id = next.id
            RETURNING j.id, j.claims AS claim, j.attempts, j.method, j.path, j.body, j.idempotency_key,
                      j.first_sent_at AS previous_first_sent_at
        ), sent AS (",
        attempts::insert_sent!(),
        ")
        SELECT claimed.*, (",
        attempts::count_in_progress!(),
        ") AS in_progress_answers FROM claimed"
    ))
    .bind(lease.as_secs_f64())
    .bind(fresh_for.as_secs_f64())
    .bind(key)
    .bind(only)
    .fetch_optional(session.conn())
    .await;
    Ok(session.checked(claimed).await?)
}

/// Records that claim `claim` of `job` is about to send it: `first_sent_at`
/// if it had none, written before the bytes leave so a crash mid-send never
/// leaves a sent job looking unsent. False (nothing written) when `claim` is
/// no longer the job's current claim: the caller must not send.
pub async fn record_first_send(db: impl PgExecutor<'_>, job: i64, claim: i32) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE tokportal.mutation_jobs SET first_sent_at = COALESCE(first_sent_at, now())
         WHERE id = $1 AND claims = $2 AND status = 'running'",
    )
    .bind(job)
    .bind(claim)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Extends the lease of a job this worker holds, if `claim` is still its
/// current claim: the heartbeat of a send in flight. False when it is not
/// (the lease ended and another worker claimed the job, or it was recorded).
pub async fn renew(db: impl PgExecutor<'_>, job: i64, claim: i32, lease: Duration) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE tokportal.mutation_jobs SET locked_until = now() + make_interval(secs => $3)
         WHERE id = $1 AND claims = $2 AND status = 'running'",
    )
    .bind(job)
    .bind(claim)
    .bind(lease.as_secs_f64())
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Jobs whose outcome is unknown (queued again, or claimed by a worker that
/// died) and whose first send is older than `fresh_for` become `expired`: the
/// API may have forgotten their key, so sending them again could charge twice.
pub async fn expire_stale(db: impl PgExecutor<'_>, fresh_for: Duration) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(concat!(
        "WITH stale AS (
            SELECT id FROM tokportal.mutation_jobs
            WHERE (status = 'queued' OR (status = 'running' AND ",
        claim_ended!(),
        "))
              AND first_sent_at <= now() - make_interval(secs => $1)
            LIMIT 100
            FOR UPDATE SKIP LOCKED
        )
        UPDATE tokportal.mutation_jobs j
        SET status = 'expired', locked_until = NULL, finished_at = now(),
            last_error = 'outcome unknown and the first send is older than the idempotency key''s lifetime \
minus the margin: the API may have forgotten the key, so it is never resent automatically \
(worker jobs retry ID --yes sends it again, possibly charging twice)'
        FROM stale WHERE j.id = stale.id
        RETURNING j.id"
    ))
    .bind(fresh_for.as_secs_f64())
    .fetch_all(db)
    .await
}

/// Writes the send into the attempts table and, if `claim` is still the job's
/// current claim, the verdict into the job, in one statement. False when the
/// claim was superseded (the lease ended and another worker claimed the job).
pub async fn record(
    db: impl PgExecutor<'_>,
    job: i64,
    claim: i32,
    send: &SendRecord,
    verdict: &Verdict,
) -> sqlx::Result<bool> {
    let update = match verdict {
        Verdict::Succeeded { .. } => {
            "status = 'succeeded', attempts = attempts + 1, locked_until = NULL, finished_at = now(),
             response_status = $10, response_body = $11, replayed = $12, credits_charged = $13::numeric,
             error_code = NULL, last_error = NULL, error_details = NULL"
        }
        Verdict::Retry { .. } => {
            "status = 'queued', attempts = attempts + $10::int, locked_until = NULL,
             run_after = now() + make_interval(secs => $11), error_code = $12, last_error = $13"
        }
        Verdict::Failed { .. } => {
            "status = 'failed', attempts = attempts + 1, locked_until = NULL, finished_at = now(),
             response_status = $10, error_code = $11, last_error = $12, error_details = $13"
        }
        Verdict::Release { .. } => "status = 'queued', locked_until = NULL, first_sent_at = $10",
    };
    let sql = format!(
        "WITH job AS (
            UPDATE tokportal.mutation_jobs SET {update}
            WHERE id = $1 AND claims = $2 AND status = 'running'
            RETURNING id
        ), sent AS (
            {sent}
        )
        SELECT count(*) FROM job",
        sent = attempts::record_sent!()
    );
    let query = sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql)).bind(job).bind(claim);
    let query = attempts::bind_sent(query, send);
    let query = match verdict {
        Verdict::Succeeded { status, body, replayed, credits_charged } => {
            query.bind(*status).bind(body).bind(*replayed).bind(credits_charged)
        }
        Verdict::Retry { after, counted, code, error } => {
            query.bind(i32::from(*counted)).bind(after.as_secs_f64()).bind(code).bind(error)
        }
        Verdict::Failed { status, code, error, details } => {
            query.bind(*status).bind(code).bind(error).bind(details)
        }
        Verdict::Release { first_sent_at } => query.bind(*first_sent_at),
    };
    Ok(query.fetch_one(db).await? == 1)
}

/// Queues a finished job again, due now, its first send forgotten; with
/// `new_key`, under a fresh idempotency key. `expected` is the status the
/// caller checked, so a job that moved meanwhile is left alone.
pub async fn requeue(
    db: impl PgExecutor<'_>,
    id: i64,
    expected: &str,
    new_key: bool,
) -> sqlx::Result<Option<Job>> {
    let sql = concat!(
        "UPDATE tokportal.mutation_jobs
         SET status = 'queued', run_after = now(), locked_until = NULL, first_sent_at = NULL, finished_at = NULL,
             idempotency_key = CASE WHEN $3 THEN gen_random_uuid()::text ELSE idempotency_key END,
             response_status = NULL, response_body = NULL, replayed = NULL, credits_charged = NULL,
             error_code = NULL, last_error = NULL, error_details = NULL
         WHERE id = $1 AND status = $2
         RETURNING ",
        job_columns!(),
        ""
    );
    sqlx::query_as(sql).bind(id).bind(expected).bind(new_key).fetch_optional(db).await
}

/// Cancels a job that was never sent: queued, or left claimed by a worker
/// whose claim ended (killed while it waited for the budget). Safe against a
/// late worker: it sends only after [`record_first_send`], which no longer
/// applies once the job is cancelled. None if it is not one.
pub async fn cancel(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<Job>> {
    let sql = concat!(
        "UPDATE tokportal.mutation_jobs SET status = 'cancelled', finished_at = now()
         WHERE id = $1 AND first_sent_at IS NULL
           AND (status = 'queued' OR (status = 'running' AND ",
        claim_ended!(),
        "))
         RETURNING ",
        job_columns!(),
        ""
    );
    sqlx::query_as(sql).bind(id).fetch_optional(db).await
}

/// Deletes up to `batch` finished jobs older than `retention`, with their
/// attempts (cascade). Returns how many; call again while it returns `batch`.
pub async fn prune(db: impl PgExecutor<'_>, retention: Duration, batch: i64) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "DELETE FROM tokportal.mutation_jobs WHERE id IN (
            SELECT id FROM tokportal.mutation_jobs
            WHERE finished_at < now() - make_interval(secs => $1)
              AND status IN ('succeeded', 'failed', 'expired', 'cancelled')
            LIMIT $2
            FOR UPDATE SKIP LOCKED)",
    )
    .bind(retention.as_secs_f64())
    .bind(batch)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
