//! The queue's reads: jobs for `worker jobs`, and the counts the gauges and
//! the claims' callers watch. Nothing here writes.

use sqlx::PgExecutor;

use super::Job;
use crate::db::owner::session_ended;

pub async fn list(db: impl PgExecutor<'_>, status: Option<&str>, limit: i64) -> sqlx::Result<Vec<Job>> {
    let sql = concat!(
        "SELECT ",
        job_columns!(),
        " FROM tokportal.mutation_jobs
         WHERE $1::text IS NULL OR status = $1 ORDER BY id DESC LIMIT $2"
    );
    sqlx::query_as(sql).bind(status).bind(limit).fetch_all(db).await
}

pub async fn get(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<Job>> {
    let sql = concat!("SELECT ", job_columns!(), " FROM tokportal.mutation_jobs WHERE id = $1");
    sqlx::query_as(sql).bind(id).fetch_optional(db).await
}

/// How many jobs a claim would take now (queued and due, or running with
/// their claim ended), ordering keys and key lifetimes aside.
pub async fn due(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar(concat!(
        "SELECT count(*) FROM tokportal.mutation_jobs
         WHERE (status = 'queued' AND run_after <= now()) OR (status = 'running' AND ",
        claim_ended!(),
        ")"
    ))
    .fetch_one(db)
    .await
}

/// Jobs queued or running, the age in seconds of the oldest queued one, and
/// how long the job due longest ago (queued past its `run_after`, or running
/// with its claim ended: what [`super::claim`] would take) has waited since
/// (0 when none). A claim whose session ended counts from the end of its
/// lease or from now, whichever is earlier: when the session ended is not
/// recorded.
pub async fn depth(db: impl PgExecutor<'_>) -> sqlx::Result<(i64, f64, f64)> {
    sqlx::query_as(concat!(
        "SELECT count(*),
                COALESCE(extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'queued')), 0)::float8,
                COALESCE(extract(epoch FROM now() - min(due) FILTER (WHERE due <= now())), 0)::float8
         FROM tokportal.mutation_jobs,
              LATERAL (SELECT CASE WHEN status = 'queued' THEN run_after
                                   WHEN ",
        claim_ended!(),
        " THEN least(locked_until, now()) END AS due) AS d
         WHERE status IN ('queued', 'running')"
    ))
    .fetch_one(db)
    .await
}
