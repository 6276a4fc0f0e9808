//! `worker replay`: sends every due mutation job once and exits, then prunes
//! old finished jobs. Exit status 3 when the API refused the key (the job it
//! was sending is back in the queue, untouched).

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::jobs::{self, Replayer, queue};
use crate::{db, startup};

/// Finished jobs deleted per statement: short transactions, no long locks.
const PRUNE_BATCH: i64 = 500;

pub async fn run(config: &Config) -> anyhow::Result<()> {
    let pool = startup::require_pool(config).await?;
    db::ensure_migrated(&pool).await?;
    let client = startup::write_client(&config.api, Some(&pool)).await?;
    let replayer = Replayer { pool: pool.clone(), client, settings: startup::jobs_settings(config) };
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::warn!("interrupted: stopping after the jobs in flight");
            on_signal.cancel();
        }
    });
    let report = jobs::drain(&replayer, config.jobs.concurrency, &cancel).await?;
    eprintln!(
        "replay: {} succeeded ({} replayed by the API), {} to retry later, {} failed, {} expired, {} superseded",
        report.succeeded, report.replayed, report.retrying, report.failed, report.expired, report.superseded
    );
    if let Some(e) = report.key_refused {
        let which =
            if config.api.write_key.is_some() { "TOKPORTAL_WRITE_API_KEY" } else { "TOKPORTAL_API_KEY" };
        return Err(anyhow::Error::new(e).context(format!(
            "replay stopped: the API refused the key ({which}); the job is back in the queue"
        )));
    }
    let mut pruned = 0;
    loop {
        let n = queue::prune(&pool, config.jobs.retention, PRUNE_BATCH)
            .await
            .context("Failed to prune old jobs")?;
        pruned += n;
        if n < PRUNE_BATCH as u64 {
            break;
        }
    }
    if pruned > 0 {
        tracing::info!(pruned, "pruned finished jobs past jobs.retention_days");
    }
    Ok(())
}
