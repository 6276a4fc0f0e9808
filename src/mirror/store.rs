//! All SQL of the mirrored list tables (`bundles`, `credit_transactions`,
//! and whatever `streams` adds): the set-based page upsert, the rows a walk
//! did not see, and soft deletes (a row's children through
//! [`child_store`](super::child_store)). Callers pass the connection, so they
//! choose the transaction. Table and column names come from the static stream
//! definitions, never from input.

mod upsert;

use anyhow::Context;
use serde_json::Value;
use sqlx::{AssertSqlSafe, PgConnection};

use super::rows::Upserted;
use super::streams::ListStream;
use super::{child_store, nested_store};
pub use upsert::Probe;
pub(super) use upsert::{Target, stored, upsert_rows};

/// One statement for the whole page: rows that are new, differ, were
/// deleted or were missed by a walk are written; the others are not
/// rewritten (see [`Probe`] for how the page's ids are found). `items` must
/// not repeat an id.
pub async fn upsert_page(
    conn: &mut PgConnection,
    stream: &ListStream,
    items: &[Value],
    probe: Probe,
) -> anyhow::Result<Upserted> {
    let target = Target { table: stream.table, columns: stream.columns, parent: None };
    upsert_rows(conn, &target, items, stream.strip_secrets, probe).await
}

/// Live rows a run did not see, leaving out rows first written after the
/// run started (a refresh may add rows the walk had already passed).
const UNSEEN: &str = "t.deleted_at IS NULL AND t.first_seen_at < $2 \
     AND NOT EXISTS (SELECT 1 FROM tokportal.sync_seen AS s WHERE s.run_id = $1 AND s.id = t.id)";

/// Whether `stream`'s table holds no row, live or deleted.
pub async fn is_empty(pool: &sqlx::PgPool, stream: &ListStream) -> anyhow::Result<bool> {
    let sql = format!("SELECT NOT EXISTS (SELECT 1 FROM {})", stream.table);
    sqlx::query_scalar(AssertSqlSafe(sql))
        .fetch_one(pool)
        .await
        .context("Failed to read whether the table is empty")
}

pub async fn count_live(conn: &mut PgConnection, stream: &ListStream) -> anyhow::Result<u64> {
    let sql = format!("SELECT count(*) FROM {} WHERE deleted_at IS NULL", stream.table);
    let n: i64 =
        sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(conn).await.context("Failed to count live rows")?;
    Ok(n as u64)
}

/// At most `limit` ids of rows the run did not see, those missed by the
/// most complete walks in a row first (so rows left unchecked by one run are
/// checked by the next ones).
pub async fn unseen_ids(
    conn: &mut PgConnection,
    stream: &ListStream,
    run_id: i64,
    started: chrono::DateTime<chrono::Utc>,
    limit: u32,
) -> anyhow::Result<Vec<String>> {
    let sql = format!(
        "SELECT t.id FROM {} AS t WHERE {UNSEEN} ORDER BY t.missing_walks DESC, t.id LIMIT $3",
        stream.table
    );
    sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(run_id)
        .bind(started)
        .bind(i64::from(limit))
        .fetch_all(conn)
        .await
        .context("Failed to list the rows the walk did not see")
}

/// Counts one more complete walk that missed each unseen row; returns how
/// many rows this walk missed, and how many have now been missed by two
/// walks in a row.
pub async fn note_missed(
    conn: &mut PgConnection,
    stream: &ListStream,
    run_id: i64,
    started: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<(u64, u64)> {
    let sql = format!(
        "WITH missed AS (UPDATE {} AS t SET missing_walks = missing_walks + 1 WHERE {UNSEEN} \
         RETURNING missing_walks) SELECT count(*), count(*) FILTER (WHERE missing_walks >= 2) FROM missed",
        stream.table
    );
    let (missed, twice): (i64, i64) = sqlx::query_as(AssertSqlSafe(sql))
        .bind(run_id)
        .bind(started)
        .fetch_one(conn)
        .await
        .context("Failed to count the rows the walk missed")?;
    Ok((missed as u64, twice as u64))
}

/// Marks deleted every live row missed by two complete walks in a row, and
/// their children and the rows listed under them (per-parent streams). Returns the rows marked.
pub async fn delete_twice_missed(conn: &mut PgConnection, stream: &ListStream) -> anyhow::Result<u64> {
    let sql = format!(
        "UPDATE {} SET deleted_at = now(), missing_walks = 0 \
         WHERE deleted_at IS NULL AND missing_walks >= 2 RETURNING id",
        stream.table
    );
    let ids: Vec<String> = sqlx::query_scalar(AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await
        .context("Failed to mark rows deleted")?;
    if stream.children {
        child_store::mark_deleted_with(conn, &ids).await?;
    }
    nested_store::mark_deleted_with(conn, stream.table, &ids).await?;
    Ok(ids.len() as u64)
}

/// Marks the rows `ids` (their children and the rows listed under them too) deleted. Returns the rows marked.
pub async fn mark_deleted(
    conn: &mut PgConnection,
    stream: &ListStream,
    ids: &[String],
) -> anyhow::Result<u64> {
    let sql = format!(
        "UPDATE {} SET deleted_at = now(), missing_walks = 0 WHERE id = ANY($1) AND deleted_at IS NULL",
        stream.table
    );
    let done = sqlx::query(AssertSqlSafe(sql))
        .bind(ids)
        .execute(&mut *conn)
        .await
        .context("Failed to mark rows deleted")?;
    if stream.children {
        child_store::mark_deleted_with(conn, ids).await?;
    }
    nested_store::mark_deleted_with(conn, stream.table, ids).await?;
    Ok(done.rows_affected())
}

/// A row was found again: it no longer counts as missed.
pub async fn clear_missed(conn: &mut PgConnection, stream: &ListStream, id: &str) -> anyhow::Result<()> {
    let sql = format!("UPDATE {} SET missing_walks = 0 WHERE id = $1 AND missing_walks > 0", stream.table);
    sqlx::query(AssertSqlSafe(sql)).bind(id).execute(conn).await.context("Failed to clear a missed row")?;
    Ok(())
}

/// Whether the mirror holds `id` as a live bundle (a child row can be written for it).
pub async fn holds_bundle(conn: &mut PgConnection, id: &str) -> anyhow::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tokportal.bundles WHERE id = $1 AND deleted_at IS NULL)")
        .bind(id)
        .fetch_one(conn)
        .await
        .context("Failed to look a bundle up")
}

/// Live bundles that are neither among `ids` nor created with `external_ref`
/// (what the demo checks in a database no run has bound to an account yet).
pub async fn count_live_bundles_except(
    conn: &mut PgConnection,
    ids: &[String],
    external_ref: &str,
) -> anyhow::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM tokportal.bundles \
         WHERE deleted_at IS NULL AND NOT (id = ANY($1)) AND external_ref IS DISTINCT FROM $2",
    )
    .bind(ids)
    .bind(external_ref)
    .fetch_one(conn)
    .await
    .context("Failed to count the live bundles")
}

/// Every list stream's rows, gone (`worker mirror rebind`; the child
/// tables, which reference bundles, are emptied first).
pub async fn empty(conn: &mut PgConnection) -> anyhow::Result<()> {
    for entry in super::streams::ALL {
        if let super::streams::Stream::List(s) = entry.stream {
            sqlx::query(AssertSqlSafe(format!("DELETE FROM {}", s.table)))
                .execute(&mut *conn)
                .await
                .with_context(|| format!("Failed to empty {}", s.table))?;
        }
    }
    Ok(())
}
