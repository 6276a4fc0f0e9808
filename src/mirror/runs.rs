//! All SQL of `tokportal.sync_runs` (one row per stream walk) and
//! `tokportal.sync_seen` (the ids a walk delivered): starting a run, the
//! per-page checkpoint written in the page's transaction, the resume point
//! of an interrupted walk, finishing, and the history `worker runs` shows.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};

mod past;

pub use super::tally::Tally;
use crate::api::cursor::Absorbed;
pub use past::{ResumePoint, interrupted_at, last_requests, last_starts};

/// Called with the stream's lock held, so a run still `running` belongs to a
/// process that died: it is closed as `interrupted`. Returns where the most
/// recent walk of the stream stopped, if it did not finish and had
/// committed a page. A routine run (a head, a filtered list) is not resumed.
pub async fn resume_point(pool: &PgPool, stream: &str) -> anyhow::Result<Option<ResumePoint>> {
    sqlx::query(
        "UPDATE tokportal.sync_runs SET status = 'interrupted', finished_at = now(), \
         note = concat_ws('; ', note, 'the process ended during the run') \
         WHERE stream = $1 AND status = 'running'",
    )
    .bind(stream)
    .execute(pool)
    .await
    .context("Failed to close the runs of processes that died")?;
    interrupted_at(pool, stream).await
}

/// A run row as `worker runs` shows it.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct RunRow {
    pub id: i64,
    pub stream: String,
    pub kind: String,
    pub status: String,
    pub complete: bool,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub resumed_from_page: Option<i32>,
    pub last_page: Option<i32>,
    pub pages: i32,
    pub rereads: i32,
    pub items: i64,
    pub inserted: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub deleted: i64,
    pub delete_checks: i32,
    pub delete_unchecked: i32,
    pub problems: i32,
    pub requests: i64,
    pub rate_limited: i64,
    pub budget_wait_secs: f64,
    pub plan: Option<Value>,
    pub note: Option<String>,
    pub error: Option<String>,
}

/// Seconds since each of `streams` last started a walk that brought its
/// list up to date (a complete walk, or a routine run: a ledger's head, the
/// changes of a list), or since `since` for a stream with none: how stale
/// its rows can be.
pub async fn walk_ages(
    pool: &PgPool,
    streams: &[&str],
    since: DateTime<Utc>,
) -> anyhow::Result<Vec<(String, f64)>> {
    let never = (Utc::now() - since).as_seconds_f64().max(0.0);
    let walks = last_walks(pool, streams).await?;
    Ok(walks.into_iter().map(|(s, walk)| (s, walk.map_or(never, |(age, _)| age.max(0.0)))).collect())
}

/// The last walk of each of `streams` that read its list to the end (or a
/// routine run: its head or its changes): seconds since it started and
/// seconds it took; `None` for a stream never walked so.
pub async fn last_walks(
    pool: &PgPool,
    streams: &[&str],
) -> anyhow::Result<Vec<(String, Option<(f64, f64)>)>> {
    let rows: Vec<(String, Option<f64>, Option<f64>)> = sqlx::query_as(
        "SELECT s.stream, extract(epoch FROM now() - r.started_at)::float8,          extract(epoch FROM r.finished_at - r.started_at)::float8          FROM unnest($1::text[]) WITH ORDINALITY AS s(stream, n) LEFT JOIN LATERAL (            SELECT started_at, finished_at FROM tokportal.sync_runs WHERE stream = s.stream            AND status IN ('succeeded', 'succeeded_with_problems') AND (complete OR kind = 'routine')            ORDER BY started_at DESC LIMIT 1) AS r ON true ORDER BY s.n",
    )
    .bind(streams)
    .fetch_all(pool)
    .await
    .context("Failed to read the streams' last walks")?;
    Ok(rows.into_iter().map(|(s, age, took)| (s, age.zip(took))).collect())
}

/// Opens a run; returns its id and start time (the database's clock).
pub async fn start(
    pool: &PgPool,
    stream: &str,
    kind: &str,
    resumed_from: Option<u32>,
    plan: Option<&Value>,
) -> anyhow::Result<(i64, DateTime<Utc>)> {
    sqlx::query_as(
        "INSERT INTO tokportal.sync_runs (stream, kind, resumed_from_page, plan, started_at) \
         VALUES ($1, $2, $3, $4, clock_timestamp()) RETURNING id, started_at",
    )
    .bind(stream)
    .bind(kind)
    .bind(resumed_from.map(|p| p as i32))
    .bind(plan)
    .fetch_one(pool)
    .await
    .context("Failed to record the start of a run in tokportal.sync_runs")
}

/// The counters and the checkpoint, without ids (the end of a run).
pub async fn checkpoint(
    conn: &mut PgConnection,
    run_id: i64,
    last_page: Option<u32>,
    tally: &Tally,
) -> anyhow::Result<()> {
    record(conn, run_id, &[], &[], last_page, tally).await
}

/// Closes a run with its final counters, and forgets what it saw.
pub async fn finish(
    pool: &PgPool,
    run_id: i64,
    status: &str,
    complete: bool,
    tally: &Tally,
    note: Option<&str>,
    error: Option<&str>,
) -> anyhow::Result<()> {
    let mut tx = pool.begin().await.context("Failed to start a transaction")?;
    checkpoint(&mut tx, run_id, None, tally).await?;
    sqlx::query(
        "WITH forgotten AS (DELETE FROM tokportal.sync_seen WHERE run_id = $1) \
         UPDATE tokportal.sync_runs SET status = $2, complete = $3, finished_at = clock_timestamp(), \
         note = coalesce($4, note), error = $5 WHERE id = $1",
    )
    .bind(run_id)
    .bind(status)
    .bind(complete)
    .bind(note)
    .bind(error)
    .execute(&mut *tx)
    .await
    .context("Failed to record the end of a run and forget the ids it saw")?;
    tx.commit().await.context("Failed to commit the end of a run")
}

/// Which of `ids` this run delivered before, and whether each is an anchor.
pub async fn known(
    conn: &mut PgConnection,
    run_id: i64,
    ids: &[String],
) -> anyhow::Result<HashMap<String, bool>> {
    let rows: Vec<(String, bool)> =
        sqlx::query_as("SELECT id, anchor FROM tokportal.sync_seen WHERE run_id = $1 AND id = ANY($2)")
            .bind(run_id)
            .bind(ids)
            .fetch_all(conn)
            .await
            .context("Failed to look up the ids the walk has seen")?;
    Ok(rows.into_iter().collect())
}

/// Records what the cursor made of a page (new ids, ids now anchors) and
/// the checkpoint, in one statement of the page's transaction. The new ids
/// are not in the seen set (the walk looked them up, or holds them in memory
/// while their page is in flight): they are inserted without a key to check.
pub async fn record_page(
    conn: &mut PgConnection,
    run_id: i64,
    absorbed: &Absorbed,
    last_page: Option<u32>,
    tally: &Tally,
) -> anyhow::Result<()> {
    record(conn, run_id, &absorbed.new_ids, &absorbed.anchors, last_page, tally).await
}

async fn record(
    conn: &mut PgConnection,
    run_id: i64,
    new_ids: &[(String, bool)],
    now_anchors: &[String],
    last_page: Option<u32>,
    tally: &Tally,
) -> anyhow::Result<()> {
    let (ids, anchors): (Vec<&str>, Vec<bool>) =
        new_ids.iter().map(|(id, anchor)| (id.as_str(), *anchor)).unzip();
    sqlx::query(
        "WITH seen AS (
            INSERT INTO tokportal.sync_seen (run_id, id, anchor) SELECT $1, * FROM unnest($2::text[], $3::bool[])
        ), anchored AS (
            UPDATE tokportal.sync_seen SET anchor = true WHERE id = ANY($4) AND run_id = $1 AND NOT anchor
        )
        UPDATE tokportal.sync_runs SET last_page = coalesce($5, last_page), pages = $6, rereads = $7,
            items = $8, inserted = $9, updated = $10, unchanged = $11, deleted = $12, delete_checks = $13,
            requests = $14, rate_limited = $15, budget_wait_secs = $16, delete_unchecked = $17, problems = $18
        WHERE id = $1",
    )
    .bind(run_id)
    .bind(ids)
    .bind(anchors)
    .bind(now_anchors)
    .bind(last_page.map(|p| p as i32))
    .bind(tally.pages as i32)
    .bind(tally.rereads as i32)
    .bind(tally.items as i64)
    .bind(tally.inserted as i64)
    .bind(tally.updated as i64)
    .bind(tally.unchanged as i64)
    .bind(tally.deleted as i64)
    .bind(tally.delete_checks as i32)
    .bind(tally.requests as i64)
    .bind(tally.rate_limited as i64)
    .bind(tally.budget_wait_secs)
    .bind(tally.delete_unchecked as i32)
    .bind(tally.problems as i32)
    .execute(conn)
    .await
    .context("Failed to record the run's ids and checkpoint")?;
    Ok(())
}

/// How many ids the run's seen set holds.
pub async fn seen_count(pool: &PgPool, run_id: i64) -> anyhow::Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM tokportal.sync_seen WHERE run_id = $1")
        .bind(run_id)
        .fetch_one(pool)
        .await
        .context("Failed to count the ids the walk saw")?;
    Ok(n as u64)
}

/// The most recent runs, newest first.
pub async fn recent(pool: &PgPool, stream: Option<&str>, limit: u32) -> anyhow::Result<Vec<RunRow>> {
    sqlx::query_as(
        "SELECT id, stream, kind, status, complete, started_at, finished_at, resumed_from_page, last_page, \
         pages, rereads, items, inserted, updated, unchanged, deleted, delete_checks, delete_unchecked, problems, \
         requests, rate_limited, budget_wait_secs, plan, note, error FROM tokportal.sync_runs \
         WHERE $1::text IS NULL OR stream = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(stream)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .context("Failed to read tokportal.sync_runs")
}

/// Forgets every run and what running walks saw (`worker mirror rebind`):
/// no checkpoint of another account's list is resumed.
pub async fn empty(conn: &mut PgConnection) -> anyhow::Result<()> {
    sqlx::raw_sql("DELETE FROM tokportal.sync_seen; DELETE FROM tokportal.sync_runs")
        .execute(conn)
        .await
        .context("Failed to empty tokportal.sync_seen and tokportal.sync_runs")?;
    Ok(())
}
