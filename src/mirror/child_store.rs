//! All SQL of the per-bundle child tables (`bundle_videos`,
//! `bundle_accounts`, and whatever `streams` adds): the per-bundle upserts,
//! and the soft deletes of a child, or of every child of gone bundles.
//! When each bundle's children were fetched is `child_refreshes`'.

use anyhow::Context;
use serde_json::Value;
use sqlx::{AssertSqlSafe, PgConnection};

use super::rows::{Upserted, excerpt};
use super::streams::{self, ChildStream};

/// A bundle's slots as `GET /bundles/{id}/videos` listed them: every
/// position upserted, positions no longer listed marked deleted. Returns
/// what was written and how many slots were marked deleted.
pub async fn upsert_videos(
    conn: &mut PgConnection,
    bundle_id: &str,
    slots: &[Value],
) -> anyhow::Result<(Upserted, u64)> {
    let (mut positions, mut statuses, mut data) = (Vec::new(), Vec::new(), Vec::new());
    for slot in slots {
        let position = slot
            .get("position")
            .and_then(Value::as_i64)
            .and_then(|p| i32::try_from(p).ok())
            .filter(|p| *p >= 1)
            .ok_or_else(|| {
                anyhow::anyhow!("a video slot has no positive integer `position`: {}", excerpt(slot))
            })?;
        // A position listed twice: the first one is kept (the upsert cannot write a row twice).
        if positions.contains(&position) {
            continue;
        }
        positions.push(position);
        statuses.push(slot.get("status").and_then(Value::as_str).map(str::to_string));
        data.push(slot.to_string());
    }
    let (inserted, updated, revived, written, gone): (i64, i64, i64, i64, i64) = sqlx::query_as(VIDEOS)
        .bind(bundle_id)
        .bind(&positions)
        .bind(statuses)
        .bind(data)
        .fetch_one(conn)
        .await
        .context("Failed to upsert a bundle's video slots")?;
    let up = Upserted {
        inserted: inserted as u64,
        updated: updated as u64,
        revived: revived as u64,
        unchanged: (positions.len() as i64 - written) as u64,
    };
    Ok((up, gone as u64))
}

const VIDEOS: &str = r#"
WITH incoming AS (
    SELECT $1::text AS bundle_id, p.position, p.status, p.data::jsonb AS data
    FROM unnest($2::int[], $3::text[], $4::text[]) AS p(position, status, data)
), changed AS (
    SELECT i.*, t.bundle_id IS NULL AS is_new, t.deleted_at IS NOT NULL AS was_deleted,
           t.data IS DISTINCT FROM i.data AS differs
    FROM incoming AS i
    LEFT JOIN tokportal.bundle_videos AS t ON t.bundle_id = i.bundle_id AND t.position = i.position
    WHERE t.bundle_id IS NULL OR t.data IS DISTINCT FROM i.data OR t.deleted_at IS NOT NULL OR t.missing_walks > 0
), up AS (
    INSERT INTO tokportal.bundle_videos AS t (bundle_id, position, status, data, first_seen_at, last_seen_at, changed_at)
    SELECT bundle_id, position, status, data, now(), now(), now() FROM changed
    ON CONFLICT (bundle_id, position) DO UPDATE SET status = excluded.status, data = excluded.data,
        last_seen_at = excluded.last_seen_at,
        changed_at = CASE WHEN t.data IS DISTINCT FROM excluded.data THEN excluded.changed_at ELSE t.changed_at END,
        deleted_at = NULL, missing_walks = 0
    RETURNING 1
), gone AS (
    UPDATE tokportal.bundle_videos SET deleted_at = now()
    WHERE bundle_id = $1 AND deleted_at IS NULL AND NOT (position = ANY($2))
    RETURNING 1
)
SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new AND differs),
       count(*) FILTER (WHERE NOT is_new AND NOT differs AND was_deleted),
       (SELECT count(*) FROM up), (SELECT count(*) FROM gone)
FROM changed"#;

/// A bundle's account as `GET /bundles/{id}/account` answered it.
pub async fn upsert_account(
    conn: &mut PgConnection,
    bundle_id: &str,
    account: &Value,
) -> anyhow::Result<Upserted> {
    let (inserted, updated, revived): (bool, bool, bool) = sqlx::query_as(ACCOUNT)
        .bind(bundle_id)
        .bind(account.to_string())
        .fetch_optional(conn)
        .await
        .context("Failed to upsert a bundle's account")?
        .unwrap_or((false, false, false));
    let unchanged = !(inserted || updated || revived);
    Ok(Upserted {
        inserted: u64::from(inserted),
        updated: u64::from(updated),
        revived: u64::from(revived),
        unchanged: u64::from(unchanged),
    })
}

const ACCOUNT: &str = r#"
WITH changed AS (
    SELECT $1::text AS bundle_id, $2::jsonb AS data, t.bundle_id IS NULL AS is_new,
           t.deleted_at IS NOT NULL AS was_deleted, t.data IS DISTINCT FROM $2::jsonb AS differs
    FROM (SELECT 1) AS one
    LEFT JOIN tokportal.bundle_accounts AS t ON t.bundle_id = $1
    WHERE t.bundle_id IS NULL OR t.data IS DISTINCT FROM $2::jsonb OR t.deleted_at IS NOT NULL OR t.missing_walks > 0
), up AS (
    INSERT INTO tokportal.bundle_accounts AS t (bundle_id, data, first_seen_at, last_seen_at, changed_at)
    SELECT bundle_id, data, now(), now(), now() FROM changed
    ON CONFLICT (bundle_id) DO UPDATE SET data = excluded.data, last_seen_at = excluded.last_seen_at,
        changed_at = CASE WHEN t.data IS DISTINCT FROM excluded.data THEN excluded.changed_at ELSE t.changed_at END,
        deleted_at = NULL, missing_walks = 0
    RETURNING 1
)
SELECT is_new, NOT is_new AND differs, NOT is_new AND NOT differs AND was_deleted FROM changed"#;

/// The API no longer has this child of `bundle_id`: mark its rows deleted.
pub async fn mark_gone(
    conn: &mut PgConnection,
    stream: &ChildStream,
    bundle_id: &str,
) -> anyhow::Result<u64> {
    let table = stream.table;
    let sql = format!("UPDATE {table} SET deleted_at = now() WHERE bundle_id = $1 AND deleted_at IS NULL");
    let done = sqlx::query(AssertSqlSafe(sql))
        .bind(bundle_id)
        .execute(conn)
        .await
        .context("Failed to mark children deleted")?;
    Ok(done.rows_affected())
}

/// The bundles `bundle_ids` are gone: every child stream's rows of them are
/// marked deleted.
pub async fn mark_deleted_with(conn: &mut PgConnection, bundle_ids: &[String]) -> anyhow::Result<()> {
    for table in streams::children().map(|s| s.table) {
        let sql =
            format!("UPDATE {table} SET deleted_at = now() WHERE bundle_id = ANY($1) AND deleted_at IS NULL");
        sqlx::query(AssertSqlSafe(sql))
            .bind(bundle_ids)
            .execute(&mut *conn)
            .await
            .with_context(|| format!("Failed to mark the rows of {table} deleted"))?;
    }
    Ok(())
}

/// Every child stream's rows, gone (`worker mirror rebind`).
pub async fn empty(conn: &mut PgConnection) -> anyhow::Result<()> {
    for table in streams::children().map(|s| s.table) {
        sqlx::query(AssertSqlSafe(format!("DELETE FROM {table}")))
            .execute(&mut *conn)
            .await
            .with_context(|| format!("Failed to empty {table}"))?;
    }
    Ok(())
}
