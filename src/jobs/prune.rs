//! Finished jobs past `jobs.retention_days` are deleted: [`prune`] once (at
//! the end of `worker replay`), [`prune_loop`] in the daemon.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::queue;

/// Finished jobs deleted per statement: short transactions, no long locks.
const PRUNE_BATCH: i64 = 500;
/// The daemon prunes at start, this often, and after each scheduled sync.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Deletes finished jobs older than `retention`, in short batches; how many.
pub async fn prune(pool: &PgPool, retention: Duration) -> anyhow::Result<u64> {
    let mut pruned = 0;
    loop {
        let n = queue::prune(pool, retention, PRUNE_BATCH).await.context("Failed to prune old jobs")?;
        pruned += n;
        if n < PRUNE_BATCH as u64 {
            break;
        }
    }
    if pruned > 0 {
        tracing::info!(pruned, "pruned finished jobs past jobs.retention_days");
    }
    Ok(pruned)
}

/// Prunes old finished jobs at start, every `PRUNE_EVERY` and when woken
/// (after each scheduled sync), until the stop.
pub async fn prune_loop(pool: PgPool, retention: Duration, wake: Arc<Notify>, stop: CancellationToken) {
    let mut every = tokio::time::interval(PRUNE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = wake.notified() => {}
            () = stop.cancelled() => return,
        }
        if let Err(e) = prune(&pool, retention).await {
            tracing::warn!(error = format!("{e:#}"), "pruning old jobs failed; trying again later");
        }
    }
}
