//! All SQL of the per-parent list tables (`webhook_deliveries`, and
//! whatever `streams` adds as a [`NestedStream`]): the page upsert with the
//! parent's id, the rows a complete walk of one parent missed, and soft
//! deletes (of rows missed twice, of the rows of gone parents). Callers pass
//! the connection, so they choose the transaction. Table and column names
//! come from the static stream definitions, never from input.

use anyhow::Context;
use serde_json::Value;
use sqlx::{AssertSqlSafe, PgConnection};

use super::rows::{NoId, Upserted, excerpt, id_of, typed};
use super::streams::{self, NestedStream};

/// One statement for the page: rows that are new, differ, moved to another
/// parent, were deleted or were missed by a walk are written; the others
/// are not touched. `items` must not repeat an id.
pub async fn upsert_page(
    conn: &mut PgConnection,
    stream: &NestedStream,
    parent_id: &str,
    items: &[Value],
) -> anyhow::Result<Upserted> {
    if items.is_empty() {
        return Ok(Upserted::default());
    }
    let mut ids = Vec::with_capacity(items.len());
    let mut data = Vec::with_capacity(items.len());
    let mut columns = vec![Vec::with_capacity(items.len()); stream.columns.len()];
    for (index, item) in items.iter().enumerate() {
        // Secrets are never stored, whatever the stream.
        let mut item = item.clone();
        crate::secret::strip_secret_keys(&mut item);
        let item = &item;
        let id = id_of(item).ok_or_else(|| NoId { index, excerpt: excerpt(item) })?;
        ids.push(id);
        data.push(item.to_string());
        for (values, column) in columns.iter_mut().zip(stream.columns) {
            values.push(typed(item.get(column.field), column.kind));
        }
    }
    let mut query = sqlx::query_as::<_, (i64, i64, i64, i64)>(AssertSqlSafe(upsert_sql(stream)))
        .bind(parent_id)
        .bind(ids)
        .bind(data);
    for values in columns {
        query = query.bind(values);
    }
    let (inserted, updated, revived, written) = query
        .fetch_one(&mut *conn)
        .await
        .with_context(|| format!("Failed to upsert a page into {}", stream.table))?;
    Ok(Upserted {
        inserted: inserted as u64,
        updated: updated as u64,
        revived: revived as u64,
        unchanged: items.len() as u64 - written as u64,
    })
}

fn upsert_sql(s: &NestedStream) -> String {
    let names: Vec<&str> = s.columns.iter().map(|c| c.name).collect();
    let arrays: Vec<String> = (2..=names.len() + 3).map(|i| format!("${i}::text[]")).collect();
    let casts: Vec<String> =
        s.columns.iter().map(|c| format!("p.{0}::{1} AS {0}", c.name, c.kind.sql_type())).collect();
    let sets: Vec<String> = names.iter().map(|n| format!("{n} = excluded.{n}")).collect();
    format!(
        r#"
WITH incoming AS (
    SELECT p.id, p.data::jsonb AS data, $1::text AS {parent}, {casts}
    FROM unnest({arrays}) AS p(id, data, {names})
), changed AS (
    SELECT i.*, t.id IS NULL AS is_new, t.deleted_at IS NOT NULL AS was_deleted,
           t.data IS DISTINCT FROM i.data AS differs
    FROM incoming AS i LEFT JOIN {table} AS t ON t.id = i.id
    WHERE t.id IS NULL OR t.data IS DISTINCT FROM i.data OR t.deleted_at IS NOT NULL OR t.missing_walks > 0
        OR t.{parent} IS DISTINCT FROM i.{parent}
), up AS (
    INSERT INTO {table} AS t (id, data, {parent}, {names}, first_seen_at, last_seen_at, changed_at)
    SELECT id, data, {parent}, {names}, now(), now(), now() FROM changed
    ON CONFLICT (id) DO UPDATE SET data = excluded.data, {parent} = excluded.{parent}, {sets},
        last_seen_at = excluded.last_seen_at,
        changed_at = CASE WHEN t.data IS DISTINCT FROM excluded.data THEN excluded.changed_at ELSE t.changed_at END,
        deleted_at = NULL,
        missing_walks = 0
    RETURNING 1
)
SELECT count(*) FILTER (WHERE is_new),
       count(*) FILTER (WHERE NOT is_new AND differs),
       count(*) FILTER (WHERE NOT is_new AND NOT differs AND was_deleted),
       (SELECT count(*) FROM up)
FROM changed"#,
        parent = s.parent_column,
        casts = casts.join(", "),
        arrays = arrays.join(", "),
        names = names.join(", "),
        sets = sets.join(", "),
        table = s.table,
    )
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
