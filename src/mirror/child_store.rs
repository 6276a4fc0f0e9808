//! All SQL of the per-bundle child tables (`bundle_videos`,
//! `bundle_accounts`) and of `child_refreshes` (when each bundle's children
//! were last fetched): the planner's queries and the per-bundle upserts.

use std::time::Duration;

use anyhow::Context;
use serde_json::Value;
use sqlx::{AssertSqlSafe, PgConnection, PgPool};

use super::store::{Upserted, excerpt};

/// Statuses after which a bundle's slots and account no longer move (the
/// documented terminal ones). Any other status, including one the
/// reference does not list, counts as active.
pub const TERMINAL: &[&str] = &["completed", "cancelled", "archived"];

/// Which live bundles a child stream may fetch for. A bundle whose
/// `videos_quantity` is 0 has no slots to fetch.
fn eligible(videos: bool) -> &'static str {
    if videos {
        "b.deleted_at IS NULL AND NOT (jsonb_typeof(b.data->'videos_quantity') = 'number' \
         AND (b.data->>'videos_quantity')::numeric = 0)"
    } else {
        "b.deleted_at IS NULL"
    }
}

const JOIN: &str = "FROM tokportal.bundles AS b \
    LEFT JOIN tokportal.child_refreshes AS c ON c.stream = $1 AND c.bundle_id = b.id";
const CHANGED: &str = "(c.bundle_id IS NULL OR b.changed_at > c.bundle_changed_at)";
const ACTIVE: &str = "coalesce(b.status, '') <> ALL($2)";

/// Bundles new or changed since their children were last fetched: up to
/// `limit` ids, oldest change first, and how many there are in all.
pub async fn changed(
    pool: &PgPool,
    stream: &str,
    videos: bool,
    limit: u32,
) -> anyhow::Result<(Vec<String>, u64)> {
    let sql = format!(
        "SELECT b.id, count(*) OVER () {JOIN} WHERE {} AND {CHANGED} ORDER BY b.changed_at, b.id LIMIT $3",
        eligible(videos)
    );
    pick(pool, sql, stream, Duration::ZERO, limit).await.context("Failed to plan the changed bundles")
}

/// Bundles in a non-terminal status whose children are older than `older_than`.
pub async fn active(
    pool: &PgPool,
    stream: &str,
    videos: bool,
    older_than: Duration,
    limit: u32,
) -> anyhow::Result<(Vec<String>, u64)> {
    let sql = format!(
        "SELECT b.id, count(*) OVER () {JOIN} WHERE {} AND NOT {CHANGED} AND {ACTIVE} \
         AND c.refreshed_at < now() - make_interval(secs => $4) ORDER BY c.refreshed_at, b.id LIMIT $3",
        eligible(videos)
    );
    pick(pool, sql, stream, older_than, limit).await.context("Failed to plan the active bundles")
}

/// The rest (terminal bundles not changed), oldest refresh first: how many
/// there are, and how many of them are older than `overdue_after`.
pub async fn rest_counts(
    pool: &PgPool,
    stream: &str,
    videos: bool,
    overdue_after: Duration,
) -> anyhow::Result<(u64, u64)> {
    let sql = format!(
        "SELECT count(*), count(*) FILTER (WHERE c.refreshed_at < now() - make_interval(secs => $3)) \
         {JOIN} WHERE {} AND NOT {CHANGED} AND NOT {ACTIVE}",
        eligible(videos)
    );
    let (all, overdue): (i64, i64) = sqlx::query_as(AssertSqlSafe(sql))
        .bind(stream)
        .bind(TERMINAL)
        .bind(overdue_after.as_secs_f64())
        .fetch_one(pool)
        .await
        .context("Failed to count the bundles to rotate through")?;
    Ok((all as u64, overdue as u64))
}

/// The `limit` rest bundles refreshed longest ago.
pub async fn rotation(pool: &PgPool, stream: &str, videos: bool, limit: u32) -> anyhow::Result<Vec<String>> {
    let sql = format!(
        "SELECT b.id, count(*) OVER () {JOIN} WHERE {} AND NOT {CHANGED} AND NOT {ACTIVE} \
         ORDER BY c.refreshed_at, b.id LIMIT $3",
        eligible(videos)
    );
    Ok(pick(pool, sql, stream, Duration::ZERO, limit).await.context("Failed to plan the rotation")?.0)
}

async fn pick(
    pool: &PgPool,
    sql: String,
    stream: &str,
    secs: Duration,
    limit: u32,
) -> Result<(Vec<String>, u64), sqlx::Error> {
    let with_age = sql.contains("$4");
    let mut query = sqlx::query_as::<_, (String, i64)>(AssertSqlSafe(sql))
        .bind(stream)
        .bind(TERMINAL)
        .bind(i64::from(limit));
    if with_age {
        query = query.bind(secs.as_secs_f64());
    }
    let rows = query.fetch_all(pool).await?;
    let total = rows.first().map_or(0, |r| r.1 as u64);
    Ok((rows.into_iter().map(|r| r.0).collect(), total))
}

/// Records that `bundle_id`'s children were fetched, with the bundle's
/// `changed_at` as it is now.
pub async fn mark_refreshed(conn: &mut PgConnection, stream: &str, bundle_id: &str) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO tokportal.child_refreshes (stream, bundle_id, refreshed_at, bundle_changed_at) \
         SELECT $1, id, now(), changed_at FROM tokportal.bundles WHERE id = $2 \
         ON CONFLICT (stream, bundle_id) DO UPDATE \
         SET refreshed_at = excluded.refreshed_at, bundle_changed_at = excluded.bundle_changed_at",
    )
    .bind(stream)
    .bind(bundle_id)
    .execute(conn)
    .await
    .context("Failed to record a refresh of a bundle's children")?;
    Ok(())
}

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
pub async fn mark_gone(conn: &mut PgConnection, table: &str, bundle_id: &str) -> anyhow::Result<u64> {
    let sql = format!("UPDATE {table} SET deleted_at = now() WHERE bundle_id = $1 AND deleted_at IS NULL");
    let done = sqlx::query(AssertSqlSafe(sql))
        .bind(bundle_id)
        .execute(conn)
        .await
        .context("Failed to mark children deleted")?;
    Ok(done.rows_affected())
}
