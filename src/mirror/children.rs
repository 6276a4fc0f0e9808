//! The per-bundle children: `GET /bundles/{id}/videos` into `bundle_videos`
//! and `GET /bundles/{id}/account` into `bundle_accounts`. One request per
//! bundle is expensive (10,000 bundles are more than an hour of a 2/s
//! budget), so each run plans which bundles to fetch:
//! 1. `changed`: new, changed (or revived) since their children were last fetched;
//! 2. `active`: in a non-terminal status, children older than `sync.children_active_refresh`;
//! 3. `rotation`: a slice of the rest, oldest first, sized so every bundle is
//!    refreshed at least every `sync.children_full_refresh`;
//!
//! capped at `sync.max_requests_per_run`; what does not fit waits for the
//! next run (the order above is the priority). The plan is logged and stored
//! with the run.
//!
//! `GET /bundles/{id}` also embeds the account and the slots, but only "at
//! least in summary" says the reference: a summary stored as the full slot
//! list would silently lose fields, so the two documented endpoints are used.

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::child_fetch::{self, Fetched, Requested, STORM};
use super::context::Mirror;
use super::streams::{BUNDLES, ChildStream};
use super::summary::{RunSummary, Status, finished};
use super::tally::Tally;
use super::{child_refreshes, deletes, problems, runs};
use crate::api::ApiError;
use crate::api::in_flight::InFlight;

/// The bundles one run fetches children for, in order, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub changed: Vec<String>,
    pub active: Vec<String>,
    pub rotation: Vec<String>,
    /// Bundles due but left for a later run by the cap.
    pub deferred: u64,
}

impl Plan {
    pub fn requests(&self) -> usize {
        self.changed.len() + self.active.len() + self.rotation.len()
    }

    pub fn to_json(&self, rate_per_second: f64) -> Value {
        json!({
            "changed": self.changed.len(),
            "active": self.active.len(),
            "rotation": self.rotation.len(),
            "deferred": self.deferred,
            "requests": self.requests(),
            "seconds_at_budget": (self.requests() as f64 / rate_per_second * 10.0).round() / 10.0,
        })
    }
}

pub async fn plan(m: &Mirror, stream: &ChildStream) -> anyhow::Result<Plan> {
    let s = &m.settings;
    let mut left = s.max_requests_per_run;
    let (changed, n_changed) = child_refreshes::changed(&m.pool, stream.name, stream.videos, left).await?;
    left -= changed.len() as u32;
    let (active, n_active) =
        child_refreshes::active(&m.pool, stream.name, stream.videos, s.children_active_refresh, left).await?;
    left -= active.len() as u32;
    let (n_rest, overdue) =
        child_refreshes::rest_counts(&m.pool, stream.name, stream.videos, s.children_full_refresh).await?;
    let full = s.children_full_refresh.as_secs_f64().max(1.0);
    let slice = (n_rest as f64 * s.run_period.as_secs_f64() / full).ceil() as u64;
    let due = slice.max(overdue).min(n_rest);
    let rotation =
        child_refreshes::rotation(&m.pool, stream.name, stream.videos, left.min(due as u32)).await?;
    let deferred =
        (n_changed + n_active + due).saturating_sub((changed.len() + active.len() + rotation.len()) as u64);
    Ok(Plan { changed, active, rotation, deferred })
}

pub async fn run(
    m: &Mirror,
    stream: &'static ChildStream,
    cancel: &CancellationToken,
) -> anyhow::Result<RunSummary> {
    let plan = plan(m, stream).await?;
    run_planned(m, stream, plan, None, cancel).await
}

/// Fetches the children `plan` names, in order, stopping between bundles at
/// `until` (continuous mode: when a list walk is due), the rest left for the
/// next run.
pub async fn run_planned(
    m: &Mirror,
    stream: &'static ChildStream,
    plan: Plan,
    until: Option<tokio::time::Instant>,
    cancel: &CancellationToken,
) -> anyhow::Result<RunSummary> {
    let plan_json = plan.to_json(m.settings.rate_per_second);
    let (run_id, _) = runs::start(&m.pool, stream.name, "children", None, Some(&plan_json)).await?;
    tracing::info!(stream = stream.name, run = run_id, plan = %plan_json, "fetching children");
    let before = m.client.counters();
    let mut tally = Tally::default();
    // Bundles set aside by an earlier run wait for their backoff.
    let set_aside = problems::of_stream(&m.pool, stream.name).await?;
    // The planner leaves them out; one set aside since it planned is skipped here.
    let waiting = |id: &&String| set_aside.get(*id) == Some(&false);
    let ids = plan.changed.iter().chain(&plan.active).chain(&plan.rotation);
    let backing_off = set_aside.values().filter(|due| !**due).count();
    let mut outcome = Ok(true);
    // Bundles a child request proved gone: marked at the end, under the delete guard.
    let mut gone = Vec::new();
    let mut storm = 0;
    let mut left_for_later = 0;
    let (started, total) = (std::time::Instant::now(), plan.requests());
    let every = m.settings.progress_every.as_secs_f64();
    let mut next_progress = every;
    // Several bundles' requests in flight as the budget gives sends; their
    // answers are stored one by one, in plan order.
    let mut queue = ids.filter(|id| !waiting(id)).cloned();
    let mut flight = InFlight::new(m.in_flight_memory / CHILD_BYTES);
    let mut refill = |flight: &mut InFlight<Requested>| {
        // Continuous mode: nothing more is sent once a list walk is due.
        while flight.room() && !cancel.is_cancelled() && !past(until) {
            let Some(id) = queue.next() else { return };
            flight.launch(&m.client, move |client| child_fetch::request(client, stream, id));
        }
    };
    let mut done = 0;
    while let Some(answered) = flight.next(&mut refill).await {
        let elapsed = started.elapsed().as_secs_f64();
        if elapsed >= next_progress {
            let left = (total - done) as f64 / m.settings.rate_per_second;
            tracing::info!(
                stream = stream.name,
                done,
                total,
                eta_secs = left.round() as u64,
                "fetching children"
            );
            next_progress = elapsed + every;
        }
        if cancel.is_cancelled() {
            outcome = Ok(false);
            break;
        }
        let id = answered.0.clone();
        match child_fetch::store(m, stream, answered, set_aside.contains_key(&id), &mut tally).await {
            Ok(Fetched::Gone) => gone.push(id),
            Ok(Fetched::Problem { retryable: true }) if storm + 1 >= STORM => {
                outcome = Err(anyhow::anyhow!(
                    "{STORM} bundles in a row answered 5xx or not at all: the API is failing, not one bundle"
                ));
                break;
            }
            Ok(Fetched::Problem { retryable }) => storm = if retryable { storm + 1 } else { 0 },
            Ok(Fetched::Stored) => storm = 0,
            Err(e) => {
                // Stopping while the request waited for the budget: not a failure.
                outcome = if ApiError::cancelled_in(&e) { Ok(false) } else { Err(e) };
                break;
            }
        }
        tally.spent(&m.client.counters(), &before);
        done += 1;
        m.advance(stream.name, done as u64, Some(total as u64));
    }
    if past(until) && outcome.as_ref().is_ok_and(|all| *all) {
        left_for_later = total.saturating_sub(done) as u64;
    }
    tally.spent(&m.client.counters(), &before);
    let guarded = match deletes::confirmed(m, &BUNDLES, &gone, &mut tally).await {
        Ok(note) => note,
        Err(e) => {
            outcome = Err(e);
            None
        }
    };
    let (status, note, error) = match outcome {
        Ok(true) => (
            Status::Succeeded.with_problems(tally.problems),
            waits(plan.deferred + left_for_later, backing_off),
            None,
        ),
        Ok(false) => (
            Status::Interrupted,
            Some("stopped between bundles; the rest are planned again next run".into()),
            None,
        ),
        Err(e) => (Status::Failed, None, Some(e)),
    };
    let note = match (guarded, note) {
        (Some(g), Some(n)) => Some(format!("{g}; {n}")),
        (g, n) => g.or(n),
    };
    finished(m, stream.name, "children", run_id, status, tally, note, error).await
}

/// A child's answer counted against `api.pages_in_flight_mib` (a bundle's
/// videos, decoded), to bound the requests in flight of a children run.
const CHILD_BYTES: usize = 256 << 10;

fn waits(deferred: u64, backing_off: usize) -> Option<String> {
    let mut parts = Vec::new();
    if deferred > 0 {
        parts.push(format!("{deferred} bundles wait for the next run"));
    }
    if backing_off > 0 {
        parts.push(format!("{backing_off} bundles set aside wait for their backoff (worker problems)"));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Whether continuous mode's `until` has come.
fn past(until: Option<tokio::time::Instant>) -> bool {
    until.is_some_and(|u| tokio::time::Instant::now() >= u)
}
