//! All SQL of the snapshot tables: `credit_balance_snapshots` (a row only
//! when the answer differs from the latest row) and
//! `account_analytics_snapshots` (one row per account and day, rewritten
//! only when it changed). Callers pass the connection, so they choose the
//! transaction.

use anyhow::Context;
use chrono::NaiveDate;
use serde_json::Value;
use sqlx::{AssertSqlSafe, PgConnection};

use super::rows::typed;
use super::streams::{self, Kind, Stream};

/// Adds `data` as the latest snapshot of `table` unless the latest row
/// holds the same; returns whether it was added.
pub async fn add_if_changed(conn: &mut PgConnection, table: &str, data: &Value) -> anyhow::Result<bool> {
    let balance = typed(data.get("balance"), Kind::Numeric);
    let sql = format!(
        "INSERT INTO {table} (balance, data, taken_at) SELECT $1::numeric, $2::jsonb, now() \
         WHERE (SELECT data FROM {table} ORDER BY id DESC LIMIT 1) IS DISTINCT FROM $2::jsonb RETURNING id"
    );
    let added: Option<i64> = sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(balance)
        .bind(data.to_string())
        .fetch_optional(conn)
        .await
        .with_context(|| format!("Failed to add a snapshot to {table}"))?;
    Ok(added.is_some())
}

/// What writing one day's snapshot did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Inserted,
    Updated,
    Unchanged,
}

/// The counters of a day's analytics, typed (NULL when absent or of another shape).
const COUNTERS: &[&str] = &["followers", "following", "likes", "videos", "views"];

/// Writes `data` as `parent_id`'s row of `day` (the UTC day it is taken, when
/// `None`), unless that row holds the same.
pub async fn upsert_day(
    conn: &mut PgConnection,
    table: &str,
    parent_id: &str,
    day: Option<NaiveDate>,
    data: &Value,
) -> anyhow::Result<Written> {
    let sql = format!(
        "INSERT INTO {table} AS t (account_id, day, followers, following, likes, videos, views, engagement_rate, \
             data, first_seen_at, changed_at) \
         VALUES ($1, coalesce($2, (now() AT TIME ZONE 'UTC')::date), $3, $4, $5, $6, $7, $8::numeric, $9::jsonb, \
             now(), now()) \
         ON CONFLICT (account_id, day) DO UPDATE SET followers = excluded.followers, \
             following = excluded.following, likes = excluded.likes, videos = excluded.videos, \
             views = excluded.views, engagement_rate = excluded.engagement_rate, data = excluded.data, \
             changed_at = excluded.changed_at \
         WHERE t.data IS DISTINCT FROM excluded.data \
         RETURNING xmax = 0"
    );
    let mut query = sqlx::query_scalar::<_, bool>(AssertSqlSafe(sql)).bind(parent_id).bind(day);
    for name in COUNTERS {
        query = query.bind(data.get(*name).and_then(Value::as_i64));
    }
    let written = query
        .bind(typed(data.get("engagement_rate"), Kind::Numeric))
        .bind(data.to_string())
        .fetch_optional(conn)
        .await
        .with_context(|| format!("Failed to write a snapshot to {table}"))?;
    Ok(match written {
        Some(true) => Written::Inserted,
        Some(false) => Written::Updated,
        None => Written::Unchanged,
    })
}

/// Every snapshot stream's rows, gone (`worker mirror rebind`).
pub async fn empty(conn: &mut PgConnection) -> anyhow::Result<()> {
    for entry in streams::ALL {
        let table = match entry.stream {
            Stream::Snapshot(s) => s.table,
            Stream::Daily(s) => s.table,
            _ => continue,
        };
        sqlx::query(AssertSqlSafe(format!("DELETE FROM {table}")))
            .execute(&mut *conn)
            .await
            .with_context(|| format!("Failed to empty {table}"))?;
    }
    Ok(())
}
