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

use anyhow::Context;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::runs::{self, Tally};
use super::streams::{BUNDLE_NOT_FOUND, BUNDLES, CHILD_NOT_FOUND};
use super::{Mirror, RunSummary, Status, child_store, store};
use crate::api::ApiError;

#[derive(Debug)]
pub struct ChildStream {
    pub name: &'static str,
    /// `GET /bundles/{id}/{suffix}`.
    pub suffix: &'static str,
    pub table: &'static str,
    pub videos: bool,
}

pub static VIDEOS: ChildStream =
    ChildStream { name: "bundle_videos", suffix: "videos", table: "tokportal.bundle_videos", videos: true };
pub static ACCOUNTS: ChildStream = ChildStream {
    name: "bundle_accounts",
    suffix: "account",
    table: "tokportal.bundle_accounts",
    videos: false,
};

pub fn stream(name: &str) -> &'static ChildStream {
    if name == VIDEOS.name { &VIDEOS } else { &ACCOUNTS }
}

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
    let (changed, n_changed) = child_store::changed(&m.pool, stream.name, stream.videos, left).await?;
    left -= changed.len() as u32;
    let (active, n_active) =
        child_store::active(&m.pool, stream.name, stream.videos, s.children_active_refresh, left).await?;
    left -= active.len() as u32;
    let (n_rest, overdue) =
        child_store::rest_counts(&m.pool, stream.name, stream.videos, s.children_full_refresh).await?;
    let full = s.children_full_refresh.as_secs_f64().max(1.0);
    let slice = (n_rest as f64 * s.run_period.as_secs_f64() / full).ceil() as u64;
    let due = slice.max(overdue).min(n_rest);
    let rotation = child_store::rotation(&m.pool, stream.name, stream.videos, left.min(due as u32)).await?;
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
    let plan_json = plan.to_json(m.settings.rate_per_second);
    let (run_id, _) = runs::start(&m.pool, stream.name, "children", None, Some(&plan_json)).await?;
    tracing::info!(stream = stream.name, run = run_id, plan = %plan_json, "fetching children");
    let before = m.client.counters();
    let mut tally = Tally::default();
    let ids = plan.changed.iter().chain(&plan.active).chain(&plan.rotation);
    let mut outcome = Ok(true);
    let (started, total) = (std::time::Instant::now(), plan.requests());
    let every = m.settings.progress_every.as_secs_f64();
    let mut next_progress = every;
    for (done, id) in ids.enumerate() {
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
        if let Err(e) = refresh(m, stream, id, &mut tally).await {
            // Stopping while the request waited for the budget: not a failure.
            outcome = if ApiError::cancelled_in(&e) { Ok(false) } else { Err(e) };
            break;
        }
        tally.spent(&m.client.counters(), &before);
        m.advance(stream.name, done as u64 + 1, Some(total as u64));
    }
    tally.spent(&m.client.counters(), &before);
    let (status, note, error) = match outcome {
        Ok(true) => (
            Status::Succeeded,
            (plan.deferred > 0).then(|| format!("{} bundles wait for the next run", plan.deferred)),
            None,
        ),
        Ok(false) => (
            Status::Interrupted,
            Some("stopped between bundles; the rest are planned again next run".into()),
            None,
        ),
        Err(e) => (Status::Failed, None, Some(e)),
    };
    let message = error.as_ref().map(|e| format!("{e:#}"));
    let complete = status == Status::Succeeded;
    runs::finish(&m.pool, run_id, status.as_str(), complete, &tally, note.as_deref(), message.as_deref())
        .await?;
    Ok(RunSummary {
        run_id,
        stream: stream.name,
        kind: "children",
        status,
        complete,
        resumed_from_page: None,
        tally,
        note,
        error,
    })
}

/// Fetches and stores one bundle's children, in one transaction with the
/// record of the refresh.
async fn refresh(m: &Mirror, stream: &ChildStream, id: &str, tally: &mut Tally) -> anyhow::Result<()> {
    let path = format!("/bundles/{id}/{}", stream.suffix);
    let answer = m.client.get(&path, &[]).await;
    let mut tx = m.pool.begin().await.context("Failed to start a transaction")?;
    tally.pages += 1;
    match answer {
        Ok(response) => {
            let data = response.body.get("data").cloned().unwrap_or(Value::Null);
            let up = if stream.videos {
                let slots = data.as_array().ok_or_else(|| {
                    anyhow::anyhow!(
                        "GET {path}: `data` is not a list of slots: {}",
                        store::excerpt(&response.body)
                    )
                })?;
                tally.items += slots.len() as u64;
                let (up, gone) = child_store::upsert_videos(&mut tx, id, slots)
                    .await
                    .with_context(|| format!("GET {path}"))?;
                tally.deleted += gone;
                up
            } else {
                anyhow::ensure!(
                    data.is_object(),
                    "GET {path}: `data` is not an account: {}",
                    store::excerpt(&response.body)
                );
                tally.items += 1;
                child_store::upsert_account(&mut tx, id, &data).await?
            };
            tally.inserted += up.inserted;
            tally.updated += up.updated + up.revived;
            tally.unchanged += up.unchanged;
            child_store::mark_refreshed(&mut tx, stream.name, id).await?;
        }
        // The bundle itself is gone: a 404 from the API is proof, not a guess.
        Err(ApiError::NotFound { code, .. }) if code == BUNDLE_NOT_FOUND => {
            tracing::info!(
                stream = stream.name,
                bundle = id,
                "the bundle no longer exists; marking it deleted"
            );
            tally.deleted += store::mark_deleted(&mut tx, &BUNDLES, &[id.to_string()]).await?;
        }
        // No slot or account (yet): only the documented codes say so; any
        // other 404 (a route's) fails the run instead of deleting children.
        Err(ApiError::NotFound { code, .. }) if CHILD_NOT_FOUND.contains(&code.as_str()) => {
            tally.deleted += child_store::mark_gone(&mut tx, stream.table, id).await?;
            child_store::mark_refreshed(&mut tx, stream.name, id).await?;
        }
        Err(e) => return Err(e.into()),
    }
    tx.commit().await.context("Failed to commit a bundle's children")
}
