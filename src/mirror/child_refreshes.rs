//! All SQL of `tokportal.child_refreshes` (when each bundle's children were
//! last fetched, and the bundle's `changed_at` then): recording a fetch, and
//! the planner's queries, which read it against `tokportal.bundles`.

use std::time::Duration;

use anyhow::Context;
use sqlx::{AssertSqlSafe, PgConnection, PgPool};

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

/// Each bundle with its last fetch of the stream's children and, if it was
/// set aside (`tokportal.sync_problems`) and still waits out its backoff,
/// that entry (`p`).
const JOIN: &str = "FROM tokportal.bundles AS b \
    LEFT JOIN tokportal.child_refreshes AS c ON c.stream = $1 AND c.bundle_id = b.id \
    LEFT JOIN tokportal.sync_problems AS p ON p.stream = $1 AND p.subject = b.id AND p.next_attempt_at > now()";
/// New, or the bundle's row changed since its children were fetched. Also a
/// bundle fetched while terminal that is terminal again: the mirror sees
/// each status only when a walk passes, and its row's change may hide a
/// return to a non-terminal status in between, when the children could move.
const CHANGED: &str = "(c.bundle_id IS NULL OR b.changed_at > c.bundle_changed_at)";
/// Children never fetched (a new bundle, or one revived).
const NEVER: &str = "c.bundle_id IS NULL";
const ACTIVE: &str = "coalesce(b.status, '') <> ALL($2)";
/// Since when a fetched bundle's children may have been stale: their fetch,
/// or, for a bundle fetched while terminal (a terminal bundle's slots and
/// account no longer move), when the mirror first saw its row change since
/// ([`note_returns`]; its current `changed_at` until noted). The round's
/// order and the staleness figures go by it.
const STALE_SINCE: &str = "CASE WHEN coalesce(c.bundle_status = ANY($2), false) \
    THEN greatest(c.refreshed_at, coalesce(c.returned_at, b.changed_at)) ELSE c.refreshed_at END";
/// Not a bundle waiting out a backoff: the planner never gives such a
/// bundle a request of the run's cap.
const NOT_WAITING: &str = "p.subject IS NULL";

/// Bundles new or changed since their children were last fetched: up to
/// `limit` ids, oldest change first, and how many there are in all.
pub async fn changed(
    pool: &PgPool,
    stream: &str,
    videos: bool,
    limit: u32,
) -> anyhow::Result<(Vec<String>, u64)> {
    let sql = format!(
        "SELECT b.id, count(*) OVER () {JOIN} WHERE {} AND {NOT_WAITING} AND {CHANGED} \
         ORDER BY b.changed_at, b.id LIMIT $3",
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
        "SELECT b.id, count(*) OVER () {JOIN} WHERE {} AND {NOT_WAITING} AND NOT {CHANGED} AND {ACTIVE} \
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
         {JOIN} WHERE {} AND {NOT_WAITING} AND NOT {CHANGED} AND NOT {ACTIVE}",
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
        "SELECT b.id, count(*) OVER () {JOIN} WHERE {} AND {NOT_WAITING} AND NOT {CHANGED} AND NOT {ACTIVE} \
         ORDER BY c.refreshed_at, b.id LIMIT $3",
        eligible(videos)
    );
    Ok(pick(pool, sql, stream, Duration::ZERO, limit).await.context("Failed to plan the rotation")?.0)
}

/// Continuous mode's first class: bundles whose children were never
/// fetched, in the order they were first seen.
pub async fn unfetched(pool: &PgPool, stream: &str, videos: bool, limit: u32) -> anyhow::Result<Vec<String>> {
    let sql = format!(
        "SELECT b.id, count(*) OVER () {JOIN} WHERE {} AND {NOT_WAITING} AND {NEVER} \
         ORDER BY b.first_seen_at, b.id LIMIT $3",
        eligible(videos)
    );
    Ok(pick(pool, sql, stream, Duration::ZERO, limit).await.context("Failed to plan the new bundles")?.0)
}

/// Continuous mode's round: the bundles fetched before that are in a
/// non-terminal status or changed since (a bundle that became terminal gets
/// its last fetch here), children stale longest first ([`STALE_SINCE`]: a
/// bundle back from a terminal status counts from its return, not from a
/// fetch its children have not moved since). A change of the bundle's row
/// does not move it ahead: the reference ties neither the slots nor the
/// account to the bundle's status (slots have their own lifecycle), so the
/// longest stale children are the likeliest changed, and taking them in that
/// order refreshes each within one round of the budget the walks leave.
pub async fn round(pool: &PgPool, stream: &str, videos: bool, limit: u32) -> anyhow::Result<Vec<String>> {
    let sql = format!(
        "SELECT b.id, count(*) OVER () {JOIN} WHERE {} AND {NOT_WAITING} AND NOT {NEVER} \
         AND ({ACTIVE} OR {CHANGED}) ORDER BY {STALE_SINCE}, b.id LIMIT $3",
        eligible(videos)
    );
    Ok(pick(pool, sql, stream, Duration::ZERO, limit).await.context("Failed to plan the round")?.0)
}

/// Seconds since the children of the live, non-terminal bundle refreshed
/// longest ago were fetched (a bundle never fetched counts from when it was
/// first seen); 0 when there is none. The same figure [`standing`] gives.
pub async fn oldest_active_age(pool: &PgPool, stream: &str, videos: bool) -> anyhow::Result<f64> {
    let standing = standing(pool, stream, videos, Duration::ZERO).await?;
    Ok(standing.oldest_active_secs.unwrap_or(0.0).max(0.0))
}

/// Where a child stream stands, for continuous mode's picker and the
/// staleness `worker runs` shows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Standing {
    /// Bundles whose children were never fetched ([`unfetched`]).
    pub new: u64,
    /// Bundles in the [`round`]: fetched before, and in a non-terminal status
    /// or changed since.
    pub round: u64,
    /// Seconds the children of the non-terminal bundle stale longest have
    /// been so ([`STALE_SINCE`]; since the bundle was first seen, if never
    /// fetched), set-aside bundles included.
    pub oldest_active_secs: Option<f64>,
    /// Where the round stands: the same age for the round's next bundle. The
    /// stream's turn goes by this figure, so neither a set-aside bundle nor a
    /// new one (which have classes of their own) holds the turn.
    pub round_oldest_secs: Option<f64>,
    /// Terminal bundles, not changed.
    pub rotation: u64,
    /// Of those, children older than `overdue_after`.
    pub overdue: u64,
}

/// Counts the bundles of each class and the age of the oldest children of a
/// non-terminal bundle.
pub async fn standing(
    pool: &PgPool,
    stream: &str,
    videos: bool,
    overdue_after: Duration,
) -> anyhow::Result<Standing> {
    let sql = format!(
        "SELECT count(*) FILTER (WHERE {NOT_WAITING} AND {NEVER}), \
                count(*) FILTER (WHERE {NOT_WAITING} AND NOT {NEVER} AND ({ACTIVE} OR {CHANGED})), \
                extract(epoch FROM now() - min(coalesce({STALE_SINCE}, b.first_seen_at)) FILTER (WHERE {ACTIVE}))::float8, \
                extract(epoch FROM now() - min({STALE_SINCE}) FILTER (WHERE {NOT_WAITING} AND NOT {NEVER} AND ({ACTIVE} OR {CHANGED})))::float8, \
                count(*) FILTER (WHERE {NOT_WAITING} AND NOT {CHANGED} AND NOT {ACTIVE}), \
                count(*) FILTER (WHERE {NOT_WAITING} AND NOT {CHANGED} AND NOT {ACTIVE} \
                    AND c.refreshed_at < now() - make_interval(secs => $3)) \
         {JOIN} WHERE {}",
        eligible(videos)
    );
    type Row = (i64, i64, Option<f64>, Option<f64>, i64, i64);
    let (new, round, oldest_active_secs, round_oldest_secs, rotation, overdue): Row =
        sqlx::query_as(AssertSqlSafe(sql))
            .bind(stream)
            .bind(TERMINAL)
            .bind(overdue_after.as_secs_f64())
            .fetch_one(pool)
            .await
            .context("Failed to read where the children stand")?;
    let n = |v: i64| v.max(0) as u64;
    Ok(Standing {
        new: n(new),
        round: n(round),
        oldest_active_secs,
        round_oldest_secs,
        rotation: n(rotation),
        overdue: n(overdue),
    })
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

/// Stamps, once, when the mirror first saw the row of each bundle fetched
/// while terminal change since, while the bundle is non-terminal: its
/// return, from which [`STALE_SINCE`] counts its children stale. Stamped
/// once, so later changes of the row do not push the bundle back in the
/// round. Continuous mode calls it before each pick.
pub async fn note_returns(pool: &PgPool) -> anyhow::Result<u64> {
    let done = sqlx::query(
        "UPDATE tokportal.child_refreshes AS c SET returned_at = b.changed_at FROM tokportal.bundles AS b \
         WHERE b.id = c.bundle_id AND c.returned_at IS NULL AND c.bundle_status = ANY($1) \
         AND coalesce(b.status, '') <> ALL($1) AND b.changed_at > c.bundle_changed_at",
    )
    .bind(TERMINAL)
    .execute(pool)
    .await
    .context("Failed to note the bundles back from a terminal status")?;
    Ok(done.rows_affected())
}

/// Records that `bundle_id`'s children were fetched, with the bundle's
/// `changed_at` and status as they are now.
pub async fn mark_refreshed(conn: &mut PgConnection, stream: &str, bundle_id: &str) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO tokportal.child_refreshes (stream, bundle_id, refreshed_at, bundle_changed_at, bundle_status) \
         SELECT $1, id, now(), changed_at, status FROM tokportal.bundles WHERE id = $2 \
         ON CONFLICT (stream, bundle_id) DO UPDATE \
         SET refreshed_at = excluded.refreshed_at, bundle_changed_at = excluded.bundle_changed_at, \
             bundle_status = excluded.bundle_status, returned_at = NULL",
    )
    .bind(stream)
    .bind(bundle_id)
    .execute(conn)
    .await
    .context("Failed to record a refresh of a bundle's children")?;
    Ok(())
}

/// Forgets every refresh (`worker mirror rebind`).
pub async fn empty(conn: &mut PgConnection) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM tokportal.child_refreshes")
        .execute(conn)
        .await
        .context("Failed to empty tokportal.child_refreshes")?;
    Ok(())
}
