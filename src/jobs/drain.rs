//! `drain`: runs [`run_next_job`] on several tasks until no job is due, the
//! API refuses the key, or `cancel` fires (each task finishes its job first).

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::replay::{Outcome, Replayer, run_next_job};
use crate::api::ApiError;

/// What one drain did.
#[derive(Debug, Default)]
pub struct DrainReport {
    pub succeeded: u64,
    pub replayed: u64,
    pub retrying: u64,
    pub failed: u64,
    pub expired: u64,
    pub superseded: u64,
    /// Claimed but not sent because the worker was stopping: back in the queue.
    pub released: u64,
    /// Set when the API refused the key: replay stopped there.
    pub key_refused: Option<ApiError>,
}

impl DrainReport {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Succeeded { replayed, .. } => {
                self.succeeded += 1;
                self.replayed += u64::from(replayed);
            }
            Outcome::Retrying { .. } => self.retrying += 1,
            Outcome::Failed { .. } => self.failed += 1,
            Outcome::Expired { jobs } => self.expired += jobs.len() as u64,
            Outcome::Superseded { .. } => self.superseded += 1,
            Outcome::Released { .. } => self.released += 1,
            Outcome::KeyRefused { error, .. } => self.key_refused = Some(error),
        }
    }

    fn merge(&mut self, other: DrainReport) {
        self.succeeded += other.succeeded;
        self.replayed += other.replayed;
        self.retrying += other.retrying;
        self.failed += other.failed;
        self.expired += other.expired;
        self.superseded += other.superseded;
        self.released += other.released;
        self.key_refused = self.key_refused.take().or(other.key_refused);
    }
}

/// The line a cycle and the daemon log for a drain.
impl std::fmt::Display for DrainReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "replay {} succeeded ({} replayed by the API), {} failed, {} expired, {} to retry later",
            self.succeeded, self.replayed, self.failed, self.expired, self.retrying
        )?;
        if self.released > 0 {
            write!(f, ", {} not sent (stopping; still queued)", self.released)?;
        }
        Ok(())
    }
}

/// Sends every due job with `concurrency` tasks. A refused key stops all of them.
pub async fn drain(
    r: &Replayer,
    concurrency: u32,
    cancel: &CancellationToken,
) -> anyhow::Result<DrainReport> {
    let stop = cancel.child_token();
    // The tasks' requests end their waits at `stop`: once one task met a
    // refused key, a job another claims meanwhile (the refused one, released)
    // is released unsent instead of meeting a second 401.
    let r = Replayer { client: r.client.with_cancel(stop.clone()), ..r.clone() };
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (r, stop) = (r.clone(), stop.clone());
        tasks.spawn(async move {
            let mut report = DrainReport::default();
            while !stop.is_cancelled() {
                let Some(outcome) = run_next_job(&r).await? else { break };
                let refused = matches!(outcome, Outcome::KeyRefused { .. });
                report.add(outcome);
                if refused {
                    stop.cancel();
                }
            }
            anyhow::Ok(report)
        });
    }
    let mut total = DrainReport::default();
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined.map_err(anyhow::Error::from).and_then(|r| r) {
            Ok(report) => total.merge(report),
            Err(e) => {
                stop.cancel();
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(total),
    }
}
