//! The sync on a schedule: [`tick_once`] walks every configured stream once
//! (each under its advisory lock, so processes sharing the database share
//! the streams instead of walking one twice); [`run`] calls it on each tick
//! of `sync.schedule`. A tick is awaited before the next is computed, so a
//! sync still running when its next tick comes is not started twice: the
//! ticks it overran are skipped. `worker --once` is one tick.

use std::future::Future;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::meter;
use crate::mirror::{self, Mirror, Outcome, RunSummary};

/// What one tick did, stream by stream.
#[derive(Debug, Default)]
pub struct Tick {
    pub runs: Vec<RunSummary>,
    /// Streams another process was walking.
    pub skipped: Vec<&'static str>,
    /// Streams not started because the tick was cancelled first.
    pub not_started: Vec<&'static str>,
}

/// The configured streams in the order a sync runs them.
pub fn streams(configured: &[String]) -> Vec<&'static str> {
    mirror::ORDER.iter().copied().filter(|s| configured.iter().any(|c| c == s)).collect()
}

/// Walks each of `streams` once; stops between pages when `cancel` fires.
/// Errors only when Postgres failed; a stream whose walk failed is in `runs`.
pub async fn tick_once(
    m: &Mirror,
    streams: &[&'static str],
    cancel: &CancellationToken,
) -> anyhow::Result<Tick> {
    let mut tick = Tick::default();
    for stream in streams.iter().copied() {
        if cancel.is_cancelled() {
            tick.not_started.push(stream);
            continue;
        }
        match mirror::sync_stream_once(m, stream, cancel).await? {
            Outcome::Skipped { stream } => tick.skipped.push(stream),
            Outcome::Ran(run) => {
                meter::run_finished(&run);
                tick.runs.push(run);
            }
        }
    }
    Ok(tick)
}

/// Calls `tick` at each upcoming time of `schedule` until `cancel` fires.
pub async fn run<F, Fut>(schedule: &cron::Schedule, cancel: &CancellationToken, mut tick: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        let Some(next) = schedule.upcoming(Utc).next() else {
            tracing::warn!("sync.schedule has no upcoming time: no more scheduled syncs");
            cancel.cancelled().await;
            return;
        };
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tracing::debug!(at = %next, "next scheduled sync");
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = cancel.cancelled() => return,
        }
        tick().await;
    }
}
