//! The sync on a schedule: a [`Scheduler`] walks every configured stream
//! once per [`Scheduler::tick_once`] (each under its advisory lock, so
//! processes sharing the database share the streams instead of walking one
//! twice); [`run`] calls a tick on each time of `sync.schedule`. A tick is
//! awaited before the next is computed, so a sync still running when its
//! next tick comes is not started twice: the ticks it overran are skipped.
//! `worker --once` is one [`cycle`]: the queue drained, then one tick.
//! With `sync.schedule = "continuous"`, [`Scheduler::continuous`] refreshes
//! without pause what [`pick`] says is most likely stale, on the budget jobs
//! and webhook refreshes leave.

mod continuous;
pub mod cycle;
pub mod pick;
mod tick;

use std::future::Future;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::meter;
use crate::mirror::{self, Mirror, Outcome};

pub use tick::Tick;

/// The configured streams in the order a sync runs them.
pub fn streams(configured: &[String]) -> Vec<&'static str> {
    mirror::ORDER.iter().copied().filter(|s| configured.iter().any(|c| c == s)).collect()
}

/// The mirror and the streams each tick walks.
#[derive(Clone)]
pub struct Scheduler {
    pub mirror: Mirror,
    pub streams: Vec<&'static str>,
    /// Continuous mode: the share of the budget the list walks take while
    /// children wait (`sync.walk_share`, see [`pick`]).
    pub walk_share: f64,
}

impl Scheduler {
    /// Walks each stream once; stops between pages when `cancel` fires.
    /// Errors when Postgres failed or the key belongs to another account than
    /// the mirror's (nothing written); a stream whose walk failed is in `runs`.
    pub async fn tick_once(&self, cancel: &CancellationToken) -> anyhow::Result<Tick> {
        let mut tick = Tick::default();
        let _first_page = self.mirror.first_page.for_this_sync();
        // One database mirrors one account: checked before anything is written.
        if !self.streams.is_empty() && !self.account().await? {
            tick.not_started.extend(self.streams.iter().copied());
            return Ok(tick);
        }
        for stream in self.streams.iter().copied() {
            if cancel.is_cancelled() {
                tick.not_started.push(stream);
                continue;
            }
            match mirror::sync_stream_once(&self.mirror, stream, cancel).await? {
                Outcome::Skipped { stream } => tick.skipped.push(stream),
                Outcome::Ran(run) => {
                    meter::run_finished(&run);
                    tick.runs.push(run);
                }
            }
        }
        Ok(tick)
    }

    /// Checks the key's account against the mirror's, binding the mirror at
    /// its first sync (a key already recorded for the account costs no
    /// request). False: stopping while `GET /me` waited for the key's budget.
    async fn account(&self) -> anyhow::Result<bool> {
        match mirror::account::ensure_reading_ahead(&self.mirror, self.streams.first().copied()).await {
            Err(e) if crate::api::ApiError::cancelled_in(&e) => Ok(false),
            other => other.map(|_| true),
        }
    }

    /// A tick at each time of `schedule` until `cancel` fires, each logged,
    /// then `after` (the daemon prunes old jobs there).
    pub async fn run(&self, schedule: &cron::Schedule, cancel: &CancellationToken, after: impl Fn()) {
        run(schedule, cancel, || async {
            match self.tick_once(cancel).await {
                Ok(tick) => tracing::info!("scheduled sync {tick}"),
                Err(e) => tracing::error!(error = format!("{e:#}"), "scheduled sync failed"),
            }
            after();
        })
        .await
    }
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
