//! What a stream's past runs say about its next one, read only: where an interrupted
//! walk stopped, when the last complete walk and the last success started,
//! and what the last run of a kind cost (the SQL of `tokportal.sync_runs`
//! that [`super`] re-exports).

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// Where an interrupted walk stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumePoint {
    pub run_id: i64,
    pub last_page: u32,
}

/// Where the most recent walk of the stream stopped, if it did not finish
/// and had committed a page (a run still `running` counts: its process died,
/// or is walking now); reads only (`worker sync --plan`).
pub async fn interrupted_at(pool: &PgPool, stream: &str) -> anyhow::Result<Option<ResumePoint>> {
    let last: Option<(i64, String, Option<i32>, String)> = sqlx::query_as(
        "SELECT id, status, last_page, kind FROM tokportal.sync_runs WHERE stream = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(stream)
    .fetch_optional(pool)
    .await
    .context("Failed to read the stream's last run")?;
    Ok(match last {
        Some((run_id, status, Some(page), kind))
            if !status.starts_with("succeeded") && kind != "children" && kind != "routine" && page >= 1 =>
        {
            Some(ResumePoint { run_id, last_page: page as u32 })
        }
        _ => None,
    })
}

/// When the stream's last complete walk started (full or resumed: what
/// `sync.full_walk_every` counts from), and its last successful full or
/// routine run (what a `since` routine run reads back to; not a resumed walk,
/// whose first pages were read by an earlier run).
pub async fn last_starts(
    pool: &PgPool,
    stream: &str,
) -> anyhow::Result<(Option<DateTime<Utc>>, Option<DateTime<Utc>>)> {
    sqlx::query_as(
        "SELECT max(started_at) FILTER (WHERE complete AND kind IN ('full', 'resumed')), \
         max(started_at) FILTER (WHERE kind IN ('full', 'routine')) FROM tokportal.sync_runs \
         WHERE stream = $1 AND status IN ('succeeded', 'succeeded_with_problems')",
    )
    .bind(stream)
    .fetch_one(pool)
    .await
    .context("Failed to read the stream's last walks")
}

/// The requests of the stream's last successful run of `kind`, if any.
pub async fn last_requests(pool: &PgPool, stream: &str, kind: &str) -> anyhow::Result<Option<u64>> {
    let n: Option<i64> = sqlx::query_scalar(
        "SELECT requests FROM tokportal.sync_runs WHERE stream = $1 AND kind = $2 \
         AND status IN ('succeeded', 'succeeded_with_problems') ORDER BY id DESC LIMIT 1",
    )
    .bind(stream)
    .bind(kind)
    .fetch_optional(pool)
    .await
    .context("Failed to read the stream's last run")?;
    Ok(n.map(|n| n.max(0) as u64))
}
