//! All SQL of `tokportal.webhook_events`: storing an accepted delivery once,
//! picking the pending events of one bundle, and recording what their
//! refresh did.

use std::time::Duration;

use anyhow::Context;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};

/// Stores an event; false when its id was already stored (a redelivery).
pub async fn insert(
    pool: &PgPool,
    id: &str,
    kind: &str,
    bundle_id: Option<&str>,
    envelope: &Value,
) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO tokportal.webhook_events (id, type, bundle_id, envelope) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(kind)
    .bind(bundle_id)
    .bind(envelope)
    .execute(pool)
    .await
    .context("Failed to store a webhook event")?;
    Ok(done.rows_affected() == 1)
}

/// The pending events of one bundle (or one event naming none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub bundle_id: Option<String>,
    pub ids: Vec<String>,
    pub types: Vec<String>,
}

/// What waits: the batch whose oldest event has waited `window`, oldest
/// first, or else how long until the next one has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    Ready(Batch),
    Wait(Duration),
    None,
}

/// bundle_id, event ids, event types, age of the oldest in seconds.
type BatchRow = (Option<String>, Vec<String>, Vec<String>, f64);

/// Pending events grouped by bundle, so a burst for one bundle within
/// `window` costs one refresh.
pub async fn next_batch(pool: &PgPool, window: Duration) -> anyhow::Result<Pending> {
    let row: Option<BatchRow> = sqlx::query_as(
        "SELECT bundle_id, array_agg(id ORDER BY received_at), array_agg(type ORDER BY received_at), \
                extract(epoch FROM (now() - min(received_at)))::float8 \
         FROM tokportal.webhook_events WHERE refreshed_at IS NULL AND run_after <= now() \
         GROUP BY bundle_id, CASE WHEN bundle_id IS NULL THEN id END \
         ORDER BY min(received_at) LIMIT 1",
    )
    .fetch_optional(pool)
    .await
    .context("Failed to read the pending webhook events")?;
    let Some((bundle_id, ids, types, age)) = row else {
        return Ok(Pending::None);
    };
    let age = Duration::from_secs_f64(age.max(0.0));
    if bundle_id.is_some() && age < window {
        return Ok(Pending::Wait(window - age));
    }
    Ok(Pending::Ready(Batch { bundle_id, ids, types }))
}

/// Records what the refresh of `ids` did.
pub async fn mark_refreshed(conn: &mut PgConnection, ids: &[String], what: &str) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE tokportal.webhook_events SET refreshed = $2, refreshed_at = now(), attempts = attempts + 1 \
         WHERE id = ANY($1)",
    )
    .bind(ids)
    .bind(what)
    .execute(conn)
    .await
    .context("Failed to record a webhook refresh")?;
    Ok(())
}

/// Records a failed refresh; the events stay pending and are tried again.
pub async fn mark_failed(pool: &PgPool, ids: &[String], error: &str) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE tokportal.webhook_events SET attempts = attempts + 1, last_error = $2, \
         run_after = now() + make_interval(secs => least(300, 2 ^ least(attempts, 10))) WHERE id = ANY($1)",
    )
    .bind(ids)
    .bind(error)
    .execute(pool)
    .await
    .context("Failed to record a failed webhook refresh")?;
    Ok(())
}
