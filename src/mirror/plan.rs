//! `worker sync --plan`: what a sync would cost, stream by stream, read from
//! the mirror before anything is sent (no request, no write):
//! - a list stream: the kind of run its next walk would be (full, routine,
//!   resumed), and its pages: the rows it holds over `api.per_page` for a
//!   walk of every page (less the pages a resumed walk skips), the last
//!   routine run's requests for a routine run of what changed since, one
//!   page for a ledger's head; a full walk of a stream with a detail
//!   endpoint may add delete checks, counted apart (`up_to`);
//! - a child stream: its planner's plan as it stands (the walk of the
//!   bundles before it may add the bundles it sees change);
//! - a per-parent list: one request a filtered walk of each parent due,
//!   plus the pages of the rows it holds beyond the first;
//! - a snapshot: one request; a daily snapshot: one a parent due.
//!
//! Each within `sync.max_requests_per_run` where the run is bounded by it.
//! The time at the budget counts the key's sustained rate only; a sync that
//! starts with a full bucket sends its first `api.burst` requests at once.

use serde::Serialize;

use super::context::Mirror;
use super::streams::{self, ListStream, Stream};
use super::walk::{Reading, next_reading};
use super::{children, nested_store, parent_fetches, runs, store};

/// What one stream's run would cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Estimate {
    pub stream: &'static str,
    /// The kind of run it would be (`sync_runs.kind`).
    pub run: &'static str,
    /// The requests it would send.
    pub requests: u64,
    /// Requests it may send beyond them: the delete checks of a full walk.
    pub up_to: u64,
    /// What the figures are read from.
    pub basis: String,
}

/// The estimate of each of `streams` (names of [`streams::ALL`]), in order.
pub async fn estimate(m: &Mirror, names: &[&str]) -> anyhow::Result<Vec<Estimate>> {
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let Some(stream) = streams::find(name) else {
            anyhow::bail!("unknown stream {name:?}");
        };
        out.push(one(m, stream).await?);
    }
    Ok(out)
}

async fn one(m: &Mirror, stream: Stream) -> anyhow::Result<Estimate> {
    let s = &m.settings;
    let cap = u64::from(s.max_requests_per_run);
    let per_page = u64::from(s.per_page.max(1));
    Ok(match stream {
        Stream::List(list) => list_estimate(m, list).await?,
        Stream::Children(child) => {
            let plan = children::plan(m, child).await?;
            Estimate {
                stream: child.name,
                run: "children",
                requests: plan.requests() as u64,
                up_to: 0,
                basis: format!(
                    "one a bundle: {} changed, {} active, {} in rotation; {} due left for later runs",
                    plan.changed.len(),
                    plan.active.len(),
                    plan.rotation.len(),
                    plan.deferred
                ),
            }
        }
        Stream::Nested(nested) => {
            let (due, live, waiting) =
                parent_fetches::due(&m.pool, nested.name, nested.parent.table, s.max_requests_per_run)
                    .await?;
            let mut conn = m.pool.acquire().await?;
            let (rows, _) = nested_store::count_live(&mut conn, nested).await?;
            let passes = nested.passes.len().max(1) as u64;
            let parents = (due.len() as u64).min(cap / passes);
            let requests = (parents * passes + rows / per_page).min(cap);
            Estimate {
                stream: nested.name,
                run: "parents",
                requests,
                up_to: 0,
                basis: format!(
                    "{parents} of {live} parents ({waiting} waiting out a backoff), {passes} filtered walks each, \
                     {rows} rows held"
                ),
            }
        }
        Stream::Snapshot(snapshot) => Estimate {
            stream: snapshot.name,
            run: "snapshot",
            requests: 1,
            up_to: 0,
            basis: format!("GET {}", snapshot.path),
        },
        Stream::Daily(daily) => {
            let (due, live, waiting) =
                parent_fetches::due(&m.pool, daily.name, daily.parent.table, s.max_requests_per_run).await?;
            Estimate {
                stream: daily.name,
                run: "parents",
                requests: due.len() as u64,
                up_to: 0,
                basis: format!(
                    "one a parent: {} of {live} ({waiting} waiting out a backoff), the longest unfetched first",
                    due.len()
                ),
            }
        }
    })
}

async fn list_estimate(m: &Mirror, list: &'static ListStream) -> anyhow::Result<Estimate> {
    let s = &m.settings;
    let per_page = u64::from(s.per_page.max(1));
    let resume = runs::interrupted_at(&m.pool, list.name).await?;
    let reading = next_reading(m, list, resume.is_some()).await?;
    let mut conn = m.pool.acquire().await?;
    let held = store::count_live(&mut conn, list).await?;
    drop(conn);
    let pages = held.div_ceil(per_page).max(1);
    let checks = match list.detail {
        Some(_) => {
            u64::from(s.max_delete_checks).min(u64::from(s.max_requests_per_run).saturating_sub(pages))
        }
        None => 0,
    };
    Ok(match (resume, reading) {
        (Some(r), _) => {
            let left = pages.saturating_sub(u64::from(r.last_page)) + 1;
            Estimate {
                stream: list.name,
                run: "resumed",
                requests: left,
                up_to: 0,
                basis: format!("{held} rows held, {per_page} a page, resuming at page {}", r.last_page),
            }
        }
        (None, Reading::All) => Estimate {
            stream: list.name,
            run: "full",
            requests: pages,
            up_to: checks,
            basis: format!("{held} rows held, {per_page} a page"),
        },
        (None, Reading::Head) => Estimate {
            stream: list.name,
            run: "routine",
            requests: 1,
            up_to: 0,
            basis: "the newest page, and more only while it brings new rows".into(),
        },
        (None, Reading::Since { param, value }) => {
            let last = runs::last_requests(&m.pool, list.name, "routine").await?;
            Estimate {
                stream: list.name,
                run: "routine",
                requests: last.unwrap_or(1).max(1),
                up_to: 0,
                basis: format!(
                    "what changed since {value} (`{param}`): {}",
                    match last {
                        Some(n) => format!("as many requests as the last routine run ({n})"),
                        None => "one page (no routine run yet)".into(),
                    }
                ),
            }
        }
    })
}

/// Seconds `requests` take at `rate_per_second`, to a tenth.
pub fn seconds_at(requests: u64, rate_per_second: f64) -> f64 {
    (requests as f64 / rate_per_second.max(f64::MIN_POSITIVE) * 10.0).round() / 10.0
}
