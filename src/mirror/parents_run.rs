//! The start every run over a list's rows shares (`daily`, `nested`): close
//! the runs of processes that died (a run of this kind never resumes as a
//! whole), take the parents due within `sync.max_requests_per_run`, record
//! the run with its plan, and read which parents are set aside.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::context::Mirror;
use super::parent_fetches::{self, Due};
use super::{problems, runs};
use crate::api::CounterSnapshot;

/// A run over parents, recorded and ready to fetch.
pub(super) struct Started {
    pub due: Vec<Due>,
    pub run_id: i64,
    pub started: DateTime<Utc>,
    /// The client's counters as the run started.
    pub before: CounterSnapshot,
    /// Parents set aside (`true`: their backoff is over).
    pub set_aside: HashMap<String, bool>,
    /// Parents set aside and still waiting out their backoff.
    pub waiting: u64,
    /// What the run's `plan` recorded.
    pub plan: Value,
}

/// Starts a run of `stream` over the rows of `parent_table`; `plan` is told
/// the parents due, how many are live and how many wait out a backoff, and
/// says what the run's `plan` records; `what` names the run in the log.
pub(super) async fn start(
    m: &Mirror,
    stream: &str,
    parent_table: &str,
    what: &str,
    plan: impl FnOnce(&[Due], u64, u64) -> Value,
) -> anyhow::Result<Started> {
    runs::resume_point(&m.pool, stream).await?;
    let cap = m.settings.max_requests_per_run;
    let (due, live, waiting) = parent_fetches::due(&m.pool, stream, parent_table, cap).await?;
    let plan = plan(&due, live, waiting);
    let (run_id, started) = runs::start(&m.pool, stream, "parents", None, Some(&plan)).await?;
    tracing::info!(stream, run = run_id, plan = %plan, "{what}");
    let before = m.client.counters();
    let set_aside = problems::of_stream(&m.pool, stream).await?;
    Ok(Started { due, run_id, started, before, set_aside, waiting, plan })
}
