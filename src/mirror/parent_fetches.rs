//! All SQL of `tokportal.parent_fetches`: when each parent row's requests
//! of a per-parent stream (`webhook_deliveries`, `account_analytics`) were
//! last made, and the checkpoint of a walk of one parent in progress. Runs
//! take the parents fetched longest ago first (never fetched first, a walk
//! in progress before all), leaving out those set aside and waiting out
//! their backoff (`tokportal.sync_problems`).

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgConnection, PgPool};

/// A parent due, with where its interrupted walk stopped, if it did.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Due {
    pub id: String,
    /// When the interrupted walk started (its rows seen since count as seen).
    pub walk_started_at: Option<DateTime<Utc>>,
    /// Which filtered walk of the parent, and its last committed page.
    pub walk_pass: Option<i32>,
    pub walk_page: Option<i32>,
}

impl Due {
    /// The checkpoint of an interrupted walk: (started, pass, page).
    pub fn resume(&self) -> Option<(DateTime<Utc>, usize, u32)> {
        match (self.walk_started_at, self.walk_pass, self.walk_page) {
            (Some(at), Some(pass), Some(page)) if pass >= 0 && page >= 1 => {
                Some((at, pass as usize, page as u32))
            }
            _ => None,
        }
    }
}

/// Up to `limit` live rows of `parent_table`, those fetched longest ago
/// first, leaving out those of `stream` still waiting out a backoff; and how
/// many live rows there are in all, and how many wait out a backoff.
pub async fn due(
    pool: &PgPool,
    stream: &str,
    parent_table: &str,
    limit: u32,
) -> anyhow::Result<(Vec<Due>, u64, u64)> {
    let sql = format!(
        "SELECT p.id, f.walk_started_at, f.walk_pass, f.walk_page FROM {parent_table} AS p \
         LEFT JOIN tokportal.parent_fetches AS f ON f.stream = $1 AND f.parent_id = p.id \
         LEFT JOIN tokportal.sync_problems AS x ON x.stream = $1 AND x.subject = p.id AND x.next_attempt_at > now() \
         WHERE p.deleted_at IS NULL AND x.subject IS NULL \
         ORDER BY f.walk_page IS NULL, f.fetched_at NULLS FIRST, p.id LIMIT $2"
    );
    let due: Vec<Due> = sqlx::query_as(AssertSqlSafe(sql))
        .bind(stream)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .with_context(|| format!("Failed to list the rows of {parent_table} due"))?;
    let sql = format!(
        "SELECT count(*), count(x.subject) FROM {parent_table} AS p \
         LEFT JOIN tokportal.sync_problems AS x ON x.stream = $1 AND x.subject = p.id AND x.next_attempt_at > now() \
         WHERE p.deleted_at IS NULL"
    );
    let (live, waiting): (i64, i64) =
        sqlx::query_as(AssertSqlSafe(sql))
            .bind(stream)
            .fetch_one(pool)
            .await
            .with_context(|| format!("Failed to count the rows of {parent_table}"))?;
    Ok((due, live as u64, waiting as u64))
}

/// `parent_id`'s requests of `stream` were all made: it goes to the back of
/// the rotation, with no walk in progress.
pub async fn fetched(conn: &mut PgConnection, stream: &str, parent_id: &str) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO tokportal.parent_fetches (stream, parent_id, fetched_at) VALUES ($1, $2, now()) \
         ON CONFLICT (stream, parent_id) DO UPDATE SET fetched_at = now(), walk_started_at = NULL, \
             walk_pass = NULL, walk_page = NULL",
    )
    .bind(stream)
    .bind(parent_id)
    .execute(conn)
    .await
    .context("Failed to record a parent's fetch")?;
    Ok(())
}

/// The checkpoint of a walk of `parent_id` in progress, written in the
/// transaction of the page it names.
pub async fn checkpoint(
    conn: &mut PgConnection,
    stream: &str,
    parent_id: &str,
    started: DateTime<Utc>,
    pass: usize,
    page: u32,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO tokportal.parent_fetches (stream, parent_id, walk_started_at, walk_pass, walk_page) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (stream, parent_id) DO UPDATE \
         SET walk_started_at = excluded.walk_started_at, walk_pass = excluded.walk_pass, walk_page = excluded.walk_page",
    )
    .bind(stream)
    .bind(parent_id)
    .bind(started)
    .bind(pass as i32)
    .bind(page as i32)
    .execute(conn)
    .await
    .context("Failed to record a walk's checkpoint")?;
    Ok(())
}

/// Forgets every fetch (`worker mirror rebind`).
pub async fn empty(conn: &mut PgConnection) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM tokportal.parent_fetches")
        .execute(conn)
        .await
        .context("Failed to empty tokportal.parent_fetches")?;
    Ok(())
}
