//! The mirror: each configured stream walked into its Postgres table.
//!
//! - [`streams`]: what can be walked (one small file per list).
//! - [`walk`]: one run of a list stream, one transaction per page (rows,
//!   the ids seen, the checkpoint), resuming where an interrupted run stopped.
//! - [`deletes`]: after a complete walk, the rows it did not see: confirmed,
//!   guarded, then soft-deleted.
//! - [`children`]: which bundles' video slots and accounts to fetch this run, and fetching them.
//! - [`store`], [`child_store`], [`runs`]: all SQL of the mirrored tables and of `sync_runs`.
//! - [`lock`]: one walk per stream across processes.
//! - `summary`: a run's summary line (the `Display` of [`RunSummary`]).
//!
//! [`sync_stream_once`] is the unit the commands, the scheduler and the tests call.

pub mod child_store;
pub mod children;
pub mod deletes;
pub mod lock;
pub mod runs;
pub mod store;
pub mod streams;
mod summary;
pub mod walk;

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::api::Client;

/// Streams in the order a sync runs them: children after the bundles they hang from.
pub const ORDER: &[&str] = &["bundles", "credit_transactions", "bundle_videos", "bundle_accounts"];

/// The knobs of the mirror (from `sync.*` and `api.*`).
#[derive(Debug, Clone)]
pub struct Settings {
    pub per_page: u32,
    /// Sustained requests per second of the key, to state what a plan costs.
    pub rate_per_second: f64,
    pub full_walk_every: Duration,
    pub children_full_refresh: Duration,
    pub children_active_refresh: Duration,
    /// Time between two scheduled runs: sizes the rotating slice of children.
    pub run_period: Duration,
    pub max_requests_per_run: u32,
    pub max_delete_checks: u32,
    pub max_delete_fraction: f64,
    /// How often a walk logs a progress line (`log.progress_secs`).
    pub progress_every: Duration,
}

/// What the mirror runs on: the pool of the process and the key's client.
#[derive(Clone)]
pub struct Mirror {
    pub pool: PgPool,
    pub client: Client,
    pub settings: Settings,
    /// Told how far each walk is; `None` reports nothing.
    pub progress: Option<Arc<dyn Progress>>,
}

impl Mirror {
    pub fn new(pool: PgPool, client: Client, settings: Settings) -> Mirror {
        Mirror { pool, client, settings, progress: None }
    }

    /// The same mirror, reporting each walk's progress to `progress`.
    pub fn with_progress(self, progress: Arc<dyn Progress>) -> Mirror {
        Mirror { progress: Some(progress), ..self }
    }

    /// `done` of `total` requests of `stream` are behind it.
    pub(crate) fn advance(&self, stream: &'static str, done: u64, total: Option<u64>) {
        if let Some(p) = &self.progress {
            p.advance(stream, done, total);
        }
    }
}

/// Where a walk says how far it is (a terminal's bars, say): given to the
/// mirror by whoever runs it, so the mirror calls nothing above it.
pub trait Progress: Send + Sync {
    /// `done` of `total` requests of `stream` are behind it (pages, or
    /// bundles for a child stream).
    fn advance(&self, stream: &'static str, done: u64, total: Option<u64>);
    /// The walk of `stream` ended with `status`.
    fn finished(&self, stream: &'static str, status: Status);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Succeeded,
    Failed,
    /// Stopped between two pages (cancelled); the next run resumes.
    Interrupted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Interrupted => "interrupted",
        }
    }
}

/// One run of one stream.
#[derive(Debug)]
pub struct RunSummary {
    pub run_id: i64,
    pub stream: &'static str,
    pub kind: &'static str,
    pub status: Status,
    pub complete: bool,
    pub resumed_from_page: Option<u32>,
    pub tally: runs::Tally,
    pub note: Option<String>,
    /// Why the run failed; the error itself for callers that branch on it.
    pub error: Option<anyhow::Error>,
}

#[derive(Debug)]
pub enum Outcome {
    Ran(RunSummary),
    /// Another process is walking this stream.
    Skipped {
        stream: &'static str,
    },
}

/// Runs `stream` once, unless another process holds its lock.
pub async fn sync_stream_once(
    m: &Mirror,
    stream: &str,
    cancel: &CancellationToken,
) -> anyhow::Result<Outcome> {
    let name =
        ORDER.iter().copied().find(|s| *s == stream).ok_or_else(|| {
            anyhow::anyhow!("unknown stream {stream:?}; known streams: {}", ORDER.join(", "))
        })?;
    let Some(lock) = lock::try_lock(&m.pool, name).await? else {
        tracing::info!(stream = name, "another process is walking this stream; skipping it");
        return Ok(Outcome::Skipped { stream: name });
    };
    let result = match streams::list(name) {
        Some(list) => walk::run(m, list, cancel).await,
        None => children::run(m, children::stream(name), cancel).await,
    };
    lock.release().await;
    let run = result?;
    if let Some(p) = &m.progress {
        p.finished(run.stream, run.status);
    }
    Ok(Outcome::Ran(run))
}
