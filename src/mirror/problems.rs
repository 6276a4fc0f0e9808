//! All SQL of `tokportal.sync_problems`: what a run set aside instead of
//! stopping (a list item without a usable id, a bundle whose children
//! fail, an id that is not one safe path segment), so one poisoned item
//! never stops a stream. A bundle set aside is retried after a backoff that
//! doubles with its attempts (1 min, 2 min, … at most a day), and its entry
//! removed once it succeeds.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

/// A problem as `worker problems` shows it.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct ProblemRow {
    pub stream: String,
    /// `page N` for a list item, else the bundle id.
    pub subject: String,
    pub code: String,
    pub excerpt: String,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
}

/// A parent row of a per-parent stream (a webhook endpoint, an account) set
/// aside: logged, recorded with its backoff, counted in the run's tally.
pub async fn set_aside_parent(
    pool: &PgPool,
    stream: &str,
    id: &str,
    code: &str,
    text: &str,
    tally: &mut super::tally::Tally,
) -> anyhow::Result<()> {
    tracing::warn!(stream, parent = id, code, error = text, "parent set aside; the run goes on");
    let mut conn = pool.acquire().await.context("Failed to get a connection")?;
    record(&mut conn, stream, id, code, text).await?;
    tally.problems += 1;
    Ok(())
}

/// Records (or counts again) a problem of `stream` about `subject`.
pub async fn record(
    conn: &mut PgConnection,
    stream: &str,
    subject: &str,
    code: &str,
    excerpt: &str,
) -> anyhow::Result<()> {
    let excerpt: String = excerpt.chars().take(300).collect();
    sqlx::query(
        "INSERT INTO tokportal.sync_problems (stream, subject, code, excerpt, next_attempt_at) \
         VALUES ($1, $2, $3, $4, now() + interval '1 minute') \
         ON CONFLICT (stream, subject) DO UPDATE SET code = excluded.code, excerpt = excluded.excerpt, \
             last_seen_at = now(), attempts = sync_problems.attempts + 1, \
             next_attempt_at = now() + least(interval '1 minute' * power(2, least(sync_problems.attempts, 20)), \
                                             interval '1 day')",
    )
    .bind(stream)
    .bind(subject)
    .bind(code)
    .bind(excerpt)
    .execute(conn)
    .await
    .context("Failed to record a problem in tokportal.sync_problems")?;
    Ok(())
}

/// How many problems each stream has set aside now (streams with none are absent).
pub async fn open_counts(pool: &PgPool) -> anyhow::Result<Vec<(String, i64)>> {
    sqlx::query_as("SELECT stream, count(*) FROM tokportal.sync_problems GROUP BY stream")
        .fetch_all(pool)
        .await
        .context("Failed to count the problems set aside")
}

/// The subjects of `stream`'s problems, each with whether its backoff has passed.
pub async fn of_stream(pool: &PgPool, stream: &str) -> anyhow::Result<HashMap<String, bool>> {
    let rows: Vec<(String, bool)> = sqlx::query_as(
        "SELECT subject, next_attempt_at <= now() FROM tokportal.sync_problems WHERE stream = $1",
    )
    .bind(stream)
    .fetch_all(pool)
    .await
    .context("Failed to read tokportal.sync_problems")?;
    Ok(rows.into_iter().collect())
}

/// `subject` of `stream` succeeded: no longer a problem.
pub async fn clear(conn: &mut PgConnection, stream: &str, subject: &str) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM tokportal.sync_problems WHERE stream = $1 AND subject = $2")
        .bind(stream)
        .bind(subject)
        .execute(conn)
        .await
        .context("Failed to clear a problem")?;
    Ok(())
}

/// A complete walk that began at `started` read every page again: the list
/// items set aside before it and not met again are gone.
pub async fn forget_pages_before(pool: &PgPool, stream: &str, started: DateTime<Utc>) -> anyhow::Result<()> {
    sqlx::query(
        "DELETE FROM tokportal.sync_problems WHERE stream = $1 AND subject LIKE 'page %' AND last_seen_at < $2",
    )
    .bind(stream)
    .bind(started)
    .execute(pool)
    .await
    .context("Failed to forget the list items no longer met")?;
    Ok(())
}

/// The problems, most recently seen first.
pub async fn recent(pool: &PgPool, stream: Option<&str>, limit: u32) -> anyhow::Result<Vec<ProblemRow>> {
    sqlx::query_as(
        "SELECT stream, subject, code, excerpt, first_seen_at, last_seen_at, attempts, next_attempt_at \
         FROM tokportal.sync_problems WHERE $1::text IS NULL OR stream = $1 \
         ORDER BY last_seen_at DESC, stream, subject LIMIT $2",
    )
    .bind(stream)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .context("Failed to read tokportal.sync_problems")
}

/// Forgets every problem (`worker mirror rebind`).
pub async fn empty(conn: &mut PgConnection) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM tokportal.sync_problems")
        .execute(conn)
        .await
        .context("Failed to empty tokportal.sync_problems")?;
    Ok(())
}
