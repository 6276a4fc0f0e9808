//! The mirror: each configured stream walked into its Postgres table.
//!
//! - [`streams`]: what can be walked, one file a stream, and [`streams::ALL`],
//!   the one list of them (names, defaults and run order derive from it).
//!   A new stream is one file under `streams/`, one line in `ALL` and the
//!   migration creating its table.
//! - [`walk`]: one run of a list stream, resuming where an interrupted run
//!   stopped; `pages`: its page loop, one transaction per page (rows, the ids
//!   seen, the checkpoint).
//! - [`deletes`]: the one delete rule: rows a complete walk did not see,
//!   and bundles a child request proved gone, confirmed, guarded, then
//!   soft-deleted.
//! - [`children`]: which bundles' video slots and accounts to fetch this run, and fetching them;
//!   `child_fetch`: one bundle's, and which failures set it aside instead of stopping the run.
//! - [`nested`]: one run of a per-parent list stream (`webhook_deliveries`):
//!   parents in rotation within the run's requests; `nested_walk`: one
//!   parent's pages.
//! - [`snapshots`]: one run of a snapshot stream: the credit balance, a row
//!   when it changed; [`daily`]: each account's analytics of the day, in rotation.
//! - [`refresh`]: one bundle in or out (a fetched bundle, its slots, its
//!   account, or the answer proving one gone), on the caller's transaction:
//!   what `webhooks` calls, and what `children` does for each bundle.
//! - All SQL, one file a table: [`store`] (the list tables), [`child_store`]
//!   (the per-bundle child tables), [`child_refreshes`] (when children were
//!   fetched: the planner's queries), [`nested_store`] (the per-parent list
//!   tables), [`snapshot_store`] (the snapshot tables), [`parent_fetches`]
//!   (when each parent's requests were made: the rotation), [`runs`] (`sync_runs` and `sync_seen`),
//!   [`problems`] (what a run set aside instead of stopping), [`account`]
//!   (the one account the database mirrors, checked by every run that writes).
//! - [`rows`]: an item's id and typed values, and what an upsert did;
//!   [`tally`]: what a run counts.
//! - [`staleness`]: how long ago each list was walked and the oldest
//!   children of a non-terminal bundle were fetched (continuous mode's inputs).
//! - [`lock`]: one walk per stream across processes.
//! - `context`: the [`Mirror`] a run is given; `summary`: what a run returns
//!   ([`Outcome`], [`RunSummary`]) and its summary line.
//!
//! - [`plan`]: what a sync would cost, stream by stream, before it sends anything (`worker sync --plan`).
//!
//! [`sync_stream_once`] is the unit the commands, the scheduler and the tests call.

pub mod account;
mod child_fetch;
pub mod child_refreshes;
pub mod child_store;
pub mod children;
mod context;
pub mod daily;
pub mod deletes;
pub mod lock;
pub mod nested;
pub mod nested_store;
mod nested_walk;
mod pages;
pub mod parent_fetches;
mod parents_run;
pub mod plan;
pub mod problems;
pub mod refresh;
pub mod rows;
pub mod runs;
pub mod snapshot_store;
pub mod snapshots;
pub mod staleness;
pub mod store;
pub mod streams;
mod summary;
pub mod tally;
pub mod walk;

use tokio_util::sync::CancellationToken;

pub use context::{Mirror, Progress, Settings};
use streams::Stream;
pub use summary::{Outcome, RunSummary, Status};

/// Streams in the order a sync runs them: children after the bundles they
/// hang from ([`streams::order`]).
pub const ORDER: &[&str] = streams::order();

/// Runs `stream` once, unless another process holds its lock.
pub async fn sync_stream_once(
    m: &Mirror,
    stream: &str,
    cancel: &CancellationToken,
) -> anyhow::Result<Outcome> {
    let found = streams::find(stream)
        .ok_or_else(|| anyhow::anyhow!("unknown stream {stream:?}; known streams: {}", ORDER.join(", ")))?;
    let name = found.name();
    let Some(lock) = lock::try_lock(&m.pool, name).await? else {
        tracing::info!(stream = name, "another process is walking this stream; skipping it");
        return Ok(Outcome::Skipped { stream: name });
    };
    let result = match found {
        Stream::List(list) => walk::run(m, list, cancel).await,
        Stream::Children(child) => children::run(m, child, cancel).await,
        Stream::Nested(nested) => nested::run(m, nested, cancel).await,
        Stream::Snapshot(snapshot) => snapshots::run_snapshot(m, snapshot, cancel).await,
        Stream::Daily(daily) => daily::run(m, daily, cancel).await,
    };
    lock.release().await;
    let run = result?;
    if let Some(p) = &m.progress {
        p.finished(run.stream, run.status);
    }
    Ok(Outcome::Ran(run))
}
