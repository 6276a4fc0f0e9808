//! All SQL of `tokportal.webhook_events`: storing an accepted delivery once,
//! claiming the pending events of one bundle, and recording what their
//! refresh did or giving them up, and pruning them after
//! `webhooks.retention_days`. A claim takes its rows with `FOR UPDATE SKIP LOCKED` and holds
//! them for a short lease (`claimed_until`) renewed while the refresh runs,
//! written on the process's owner session whose key it records
//! (`claimed_by`, see `crate::db::owner`), like the mutation queue, so
//! processes sharing the database never refresh the same batch and a dead
//! process's batch is taken over as soon as Postgres ends its session; an
//! outcome is recorded only under the claim that is still current.

use std::time::Duration;

use anyhow::Context;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::db::owner::{Owner, session_ended};

/// SQL true for an event no live claim holds (columns of alias `$t`): never
/// claimed or released, its lease passed unrenewed, or the session of the
/// process that claimed it is gone.
macro_rules! unclaimed {
    ($t:literal) => {
        concat!(
            "(",
            $t,
            ".claimed_until IS NULL OR ",
            $t,
            ".claimed_until <= now() OR ",
            session_ended!(concat!($t, ".claimed_by")),
            ")"
        )
    };
}

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

/// The claimed pending events of one bundle (or one event naming none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub bundle_id: Option<String>,
    pub ids: Vec<String>,
    pub types: Vec<String>,
    /// This claim: what the outcome is recorded under.
    pub claim: Uuid,
}

/// What waits: a batch claimed for this process, or else how long until
/// the next one's window ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    Ready(Batch),
    Wait(Duration),
    None,
}

/// The oldest due, unclaimed event whose window has passed (events naming no
/// bundle have none), and with it every due, unclaimed event of its bundle,
/// so a burst for one bundle within `window` costs one refresh. Rows another
/// process is claiming right now are skipped, not waited for.
const CLAIM: &str = concat!(
    "
WITH head AS (
    SELECT w.id, w.bundle_id FROM tokportal.webhook_events AS w
    WHERE w.refreshed_at IS NULL AND w.failed_at IS NULL AND w.run_after <= now()
      AND ",
    unclaimed!("w"),
    "
      AND (w.bundle_id IS NULL OR w.received_at <= now() - make_interval(secs => $1))
    ORDER BY w.received_at, w.id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
), batch AS (
    SELECT e.id FROM tokportal.webhook_events AS e
    JOIN head ON e.id = head.id OR e.bundle_id = head.bundle_id
    WHERE e.refreshed_at IS NULL AND e.failed_at IS NULL AND e.run_after <= now()
      AND ",
    unclaimed!("e"),
    "
    FOR UPDATE OF e SKIP LOCKED
)
UPDATE tokportal.webhook_events AS e
SET claimed_until = now() + make_interval(secs => $2), claim = $3, claimed_by = $4
FROM batch WHERE e.id = batch.id
RETURNING e.id, e.type, e.bundle_id"
);

/// Claims the next ready batch for `lease` on the process's owner session,
/// or says how long until one is ready (`Wait`) or that none waits. Retries
/// that are not due yet, and batches other processes hold, are found again
/// by the caller's polling.
pub async fn claim(
    pool: &PgPool,
    owner: &Owner,
    window: Duration,
    lease: Duration,
) -> anyhow::Result<Pending> {
    let claim = Uuid::new_v4();
    let mut session = owner.session().await?;
    let key = session.key();
    let rows = sqlx::query_as(CLAIM)
        .bind(window.as_secs_f64())
        .bind(lease.as_secs_f64())
        .bind(claim)
        .bind(key)
        .fetch_all(session.conn())
        .await;
    let rows: Vec<(String, String, Option<String>)> =
        session.checked(rows).await.context("Failed to claim pending webhook events")?;
    let Some(bundle_id) = rows.first().map(|r| r.2.clone()) else {
        return young(pool, window).await;
    };
    let (ids, types): (Vec<String>, Vec<String>) = rows.into_iter().map(|(id, kind, _)| (id, kind)).unzip();
    Ok(Pending::Ready(Batch { bundle_id, ids, types, claim }))
}

/// How long until the oldest unclaimed event still inside its window leaves it.
async fn young(pool: &PgPool, window: Duration) -> anyhow::Result<Pending> {
    let left: Option<f64> = sqlx::query_scalar(concat!(
        "SELECT extract(epoch FROM (min(w.received_at) + make_interval(secs => $1) - now()))::float8 \
         FROM tokportal.webhook_events AS w \
         WHERE w.refreshed_at IS NULL AND w.failed_at IS NULL AND w.run_after <= now() AND w.bundle_id IS NOT NULL \
           AND ",
        unclaimed!("w"),
        " AND w.received_at > now() - make_interval(secs => $1)"
    ))
    .bind(window.as_secs_f64())
    .fetch_one(pool)
    .await
    .context("Failed to read the pending webhook events")?;
    Ok(left.map_or(Pending::None, |s| Pending::Wait(Duration::from_secs_f64(s.max(0.0)))))
}

/// Extends the claim of a batch this process holds while its refresh runs
/// (the heartbeat). False when the claim is no longer current.
pub async fn renew(pool: &PgPool, batch: &Batch, lease: Duration) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "UPDATE tokportal.webhook_events SET claimed_until = now() + make_interval(secs => $3) \
         WHERE id = ANY($1) AND claim = $2 AND claimed_until IS NOT NULL",
    )
    .bind(&batch.ids)
    .bind(batch.claim)
    .bind(lease.as_secs_f64())
    .execute(pool)
    .await
    .context("Failed to renew the claim of webhook events")?;
    Ok(done.rows_affected() > 0)
}

/// Records what the refresh of the batch did, and ends its claim. False when
/// the claim was no longer current (its lease ended and another process took
/// the events): that process records its own outcome.
pub async fn mark_refreshed(conn: &mut PgConnection, batch: &Batch, what: &str) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "UPDATE tokportal.webhook_events \
         SET refreshed = $2, refreshed_at = now(), attempts = attempts + 1, claimed_until = NULL \
         WHERE id = ANY($1) AND claim = $3",
    )
    .bind(&batch.ids)
    .bind(what)
    .bind(batch.claim)
    .execute(conn)
    .await
    .context("Failed to record a webhook refresh")?;
    Ok(done.rows_affected() > 0)
}

/// Records a failed refresh and ends the claim: each event is tried again
/// after a backoff kept in the row, or, once it has failed `max_attempts`
/// times, given up (`failed_at`, never claimed again). Returns how many were given up.
pub async fn mark_failed(
    pool: &PgPool,
    batch: &Batch,
    error: &str,
    max_attempts: u32,
) -> anyhow::Result<u64> {
    let given_up: Vec<bool> = sqlx::query_scalar(
        "UPDATE tokportal.webhook_events SET attempts = attempts + 1, last_error = $2, claimed_until = NULL, \
         failed_at = CASE WHEN attempts + 1 >= $4 THEN now() END, \
         run_after = now() + make_interval(secs => least(300, 2 ^ least(attempts, 10))) \
         WHERE id = ANY($1) AND claim = $3 \
         RETURNING failed_at IS NOT NULL",
    )
    .bind(&batch.ids)
    .bind(error)
    .bind(batch.claim)
    .bind(i64::from(max_attempts))
    .fetch_all(pool)
    .await
    .context("Failed to record a failed webhook refresh")?;
    Ok(given_up.into_iter().filter(|g| *g).count() as u64)
}

/// Ends the claim without counting an attempt: the refresh was not sent
/// (the worker is stopping); the events are claimed again by the next run.
pub async fn release(pool: &PgPool, batch: &Batch) -> anyhow::Result<()> {
    sqlx::query("UPDATE tokportal.webhook_events SET claimed_until = NULL WHERE id = ANY($1) AND claim = $2")
        .bind(&batch.ids)
        .bind(batch.claim)
        .execute(pool)
        .await
        .context("Failed to release webhook events")?;
    Ok(())
}

/// Gives the batch's events up at once (no retry will do better), the
/// reason kept, and ends the claim. Returns how many.
pub async fn give_up(pool: &PgPool, batch: &Batch, error: &str) -> anyhow::Result<u64> {
    let done = sqlx::query(
        "UPDATE tokportal.webhook_events SET failed_at = now(), last_error = $2, claimed_until = NULL \
         WHERE id = ANY($1) AND claim = $3",
    )
    .bind(&batch.ids)
    .bind(error)
    .bind(batch.claim)
    .execute(pool)
    .await
    .context("Failed to give up webhook events")?;
    Ok(done.rows_affected())
}

/// Deletes up to `batch` events refreshed or given up more than `retention`
/// ago; pending ones are never pruned. Returns how many; call again while it
/// returns `batch`.
pub async fn prune(pool: &PgPool, retention: Duration, batch: i64) -> anyhow::Result<u64> {
    let done = sqlx::query(
        "DELETE FROM tokportal.webhook_events WHERE id IN (
            SELECT id FROM tokportal.webhook_events
            WHERE coalesce(refreshed_at, failed_at) < now() - make_interval(secs => $1)
            LIMIT $2
            FOR UPDATE SKIP LOCKED)",
    )
    .bind(retention.as_secs_f64())
    .bind(batch)
    .execute(pool)
    .await
    .context("Failed to prune old webhook events")?;
    Ok(done.rows_affected())
}
