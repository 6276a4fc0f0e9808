//! All SQL of the per-parent list tables (`webhook_deliveries`, and
//! whatever `streams` adds as a [`NestedStream`]): the page upsert with the
//! parent's id, the rows a complete walk of one parent missed, and soft
//! deletes (of rows missed twice, of the rows of gone parents). Callers pass
//! the connection, so they choose the transaction. Table and column names
//! come from the static stream definitions, never from input.

use anyhow::Context;
use serde_json::Value;
use sqlx::{AssertSqlSafe, PgConnection};

use super::rows::Upserted;
use super::store::{self, Target};
use super::streams::{self, NestedStream};

/// One statement for the page ([`store::upsert_rows`]): rows that are new,
/// differ, moved to another parent, were deleted or were missed by a walk
/// are written; the others are not touched. Secrets are never stored,
/// whatever the stream. `items` must not repeat an id.
pub async fn upsert_page(
    conn: &mut PgConnection,
    stream: &NestedStream,
    parent_id: &str,
    items: &[Value],
) -> anyhow::Result<Upserted> {
    let target = Target {
        table: stream.table,
        columns: stream.columns,
        parent: Some((stream.parent_column, parent_id)),
    };
    store::upsert_rows(conn, &target, items, true, store::Probe::Lookup).await
}

/// Counts one more complete walk of `parent_id` that missed each of its
/// live rows written before `started` and not in the run's seen set under
/// any of `scopes` (the seen set's id of a row is `scope || id`). Returns
/// how many it missed.
pub async fn note_missed(
    conn: &mut PgConnection,
    stream: &NestedStream,
    parent_id: &str,
    run_id: i64,
    started: chrono::DateTime<chrono::Utc>,
    scopes: &[String],
) -> anyhow::Result<u64> {
    let sql = format!(
        "UPDATE {table} AS t SET missing_walks = missing_walks + 1 \
         WHERE t.{parent} = $1 AND t.deleted_at IS NULL AND t.first_seen_at < $3 \
         AND NOT EXISTS (SELECT 1 FROM tokportal.sync_seen AS s \
             WHERE s.run_id = $2 AND s.id IN (SELECT scope || t.id FROM unnest($4::text[]) AS scope))",
        table = stream.table,
        parent = stream.parent_column,
    );
    let done = sqlx::query(AssertSqlSafe(sql))
        .bind(parent_id)
        .bind(run_id)
        .bind(started)
        .bind(scopes)
        .execute(conn)
        .await
        .context("Failed to count the rows a walk missed")?;
    Ok(done.rows_affected())
}

/// Live rows, and of them those missed by two complete walks in a row.
pub async fn count_live(conn: &mut PgConnection, stream: &NestedStream) -> anyhow::Result<(u64, u64)> {
    let sql = format!(
        "SELECT count(*), count(*) FILTER (WHERE missing_walks >= 2) FROM {} WHERE deleted_at IS NULL",
        stream.table
    );
    let (live, twice): (i64, i64) =
        sqlx::query_as(AssertSqlSafe(sql)).fetch_one(conn).await.context("Failed to count live rows")?;
    Ok((live as u64, twice as u64))
}

/// Marks deleted every live row missed by two complete walks in a row.
pub async fn delete_twice_missed(conn: &mut PgConnection, stream: &NestedStream) -> anyhow::Result<u64> {
    let sql = format!(
        "UPDATE {} SET deleted_at = now(), missing_walks = 0 WHERE deleted_at IS NULL AND missing_walks >= 2",
        stream.table
    );
    let done = sqlx::query(AssertSqlSafe(sql)).execute(conn).await.context("Failed to mark rows deleted")?;
    Ok(done.rows_affected())
}

/// Marks deleted the live rows whose parent the mirror holds as deleted
/// (or no longer holds at all). Returns the rows marked.
pub async fn delete_orphans(conn: &mut PgConnection, stream: &NestedStream) -> anyhow::Result<u64> {
    let sql = format!(
        "UPDATE {table} AS t SET deleted_at = now(), missing_walks = 0 WHERE t.deleted_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM {parents} AS p WHERE p.id = t.{parent} AND p.deleted_at IS NULL)",
        table = stream.table,
        parents = stream.parent.table,
        parent = stream.parent_column,
    );
    let done = sqlx::query(AssertSqlSafe(sql))
        .execute(conn)
        .await
        .with_context(|| format!("Failed to mark the rows of deleted parents in {}", stream.table))?;
    Ok(done.rows_affected())
}

/// The rows `parent_ids` of `parent_table` are gone: the rows listed under
/// them, in every per-parent stream hanging from that table, are marked
/// deleted with them.
pub async fn mark_deleted_with(
    conn: &mut PgConnection,
    parent_table: &str,
    parent_ids: &[String],
) -> anyhow::Result<()> {
    for s in streams::nested().filter(|s| s.parent.table == parent_table) {
        let sql = format!(
            "UPDATE {} SET deleted_at = now(), missing_walks = 0 WHERE {} = ANY($1) AND deleted_at IS NULL",
            s.table, s.parent_column
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(parent_ids)
            .execute(&mut *conn)
            .await
            .with_context(|| format!("Failed to mark the rows of {} deleted", s.table))?;
    }
    Ok(())
}

/// Every per-parent list stream's rows, gone (`worker mirror rebind`).
pub async fn empty(conn: &mut PgConnection) -> anyhow::Result<()> {
    for table in streams::nested().map(|s| s.table) {
        sqlx::query(AssertSqlSafe(format!("DELETE FROM {table}")))
            .execute(&mut *conn)
            .await
            .with_context(|| format!("Failed to empty {table}"))?;
    }
    Ok(())
}
