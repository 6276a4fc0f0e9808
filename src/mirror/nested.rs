//! One run of a per-parent list stream (`webhook_deliveries`): for each
//! live parent row (a webhook endpoint), every page of its list, once per
//! filter of the stream's passes (failed deliveries first), each page in one
//! transaction with its rows, the ids it delivered and the parent's
//! checkpoint. Parents go in rotation, those walked longest ago first (a
//! walk left unfinished before all, resumed at its checkpoint), within
//! `sync.max_requests_per_run`; the rest wait for the next run.
//!
//! Deletes follow the one rule (`mirror::deletes`): a row missed by two
//! complete walks of its parent (a resumed walk proves nothing) is marked
//! deleted, within `sync.max_delete_fraction`; a parent answered with the
//! documented not-found code is gone, marked through its own list stream
//! (under its guard) with its rows; rows of a parent the mirror marked
//! deleted go with it. A failure of one parent (a 5xx, a 403, a body that is
//! not a page, an id that is not one safe path segment) sets it aside in
//! `sync_problems`; it never stops the run.

use anyhow::Context;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::child_fetch::STORM;
use super::context::Mirror;
use super::nested_walk::{Ended, record, scope, walk_parent};
use super::parent_fetches;
use super::parents_run;
use super::streams::{self, NestedStream};
use super::summary::{RunSummary, Status, finished};
use super::tally::Tally;
use super::{deletes, nested_store, problems, runs};
use crate::api::{ApiError, is_safe_id};

pub async fn run(
    m: &Mirror,
    stream: &'static NestedStream,
    cancel: &CancellationToken,
) -> anyhow::Result<RunSummary> {
    let parent = stream.parent;
    let cap = m.settings.max_requests_per_run;
    let parents_run::Started { due, run_id, started, before, set_aside, .. } = parents_run::start(
        m,
        stream.name,
        parent.table,
        "walking each parent's list",
        |due, live, waiting| {
            json!({
                "parents": live,
                "due": due.len(),
                "resuming": due.iter().filter(|d| d.resume().is_some()).count(),
                "waiting_backoff": waiting,
                "max_requests": cap,
            })
        },
    )
    .await?;
    let mut tally = Tally::default();
    let mut notes = Vec::new();
    let mut outcome: anyhow::Result<bool> = Ok(true);
    {
        let mut conn = m.pool.acquire().await.context("Failed to get a connection")?;
        tally.deleted += nested_store::delete_orphans(&mut conn, stream).await?;
    }
    let (mut gone, mut storm, mut walked, mut missed) = (Vec::new(), 0, 0usize, 0u64);
    let total = due.len() as u64;
    for (done, parent_row) in due.iter().enumerate() {
        if cancel.is_cancelled() {
            outcome = Ok(false);
            break;
        }
        if tally.requests >= u64::from(cap) {
            break;
        }
        let id = parent_row.id.as_str();
        let ended = if is_safe_id(id) {
            walk_parent(m, stream, parent_row, run_id, started, &mut tally, &before, cancel).await
        } else {
            let text = format!(
                "the parent id {:?} is not one safe path segment; nothing was requested",
                excerpt_of(id)
            );
            record(m, stream, id, "UNSAFE_ID", &text, &mut tally)
                .await
                .map(|()| Ended::Problem { retryable: false })
        };
        let ended = match ended {
            Ok(ended) => ended,
            Err(e) => {
                outcome = if ApiError::cancelled_in(&e) { Ok(false) } else { Err(e) };
                break;
            }
        };
        match ended {
            Ended::Walked { resumed, started: walk_started } => {
                storm = 0;
                walked += 1;
                let mut tx = m.pool.begin().await.context("Failed to start a transaction")?;
                if !resumed {
                    if runs::seen_count(&m.pool, run_id).await? < tally.items {
                        let lost = "the ids this run saw were lost (did Postgres restart?): no row was marked missed";
                        if !notes.iter().any(|n| n == lost) {
                            tracing::warn!(stream = stream.name, run = run_id, "{lost}");
                            notes.push(lost.to_string());
                        }
                    } else {
                        let scopes: Vec<String> = (0..stream.passes.len()).map(scope).collect();
                        missed +=
                            nested_store::note_missed(&mut tx, stream, id, run_id, walk_started, &scopes)
                                .await?;
                    }
                }
                parent_fetches::fetched(&mut tx, stream.name, id).await?;
                if set_aside.contains_key(id) {
                    problems::clear(&mut tx, stream.name, id).await?;
                }
                tx.commit().await.context("Failed to commit a parent's walk")?;
            }
            Ended::Gone => {
                storm = 0;
                tracing::info!(stream = stream.name, parent = id, "the parent no longer exists");
                gone.push(id.to_string());
            }
            Ended::Problem { retryable: true } if storm + 1 >= STORM => {
                outcome = Err(anyhow::anyhow!(
                    "{STORM} parents in a row answered 5xx or not at all: the API is failing, not one parent"
                ));
                break;
            }
            Ended::Problem { retryable } => storm = if retryable { storm + 1 } else { 0 },
            Ended::Capped => break,
            Ended::Cancelled => {
                outcome = Ok(false);
                break;
            }
        }
        m.advance(stream.name, done as u64 + 1, Some(total));
    }
    tally.spent(&m.client.counters(), &before);
    let left = due.len().saturating_sub(walked + gone.len());
    if outcome.as_ref().is_ok_and(|all| *all) && left > 0 {
        notes.push(format!(
            "{left} parents wait for the next run (sync.max_requests_per_run, or set aside: worker problems)"
        ));
    }
    if missed > 0 {
        notes.push(format!("{missed} rows missed by a complete walk of their parent"));
    }
    if outcome.is_ok() {
        match settle(m, stream, parent, &gone, &mut tally).await {
            Ok(mut settled) => notes.append(&mut settled),
            Err(e) => outcome = Err(e),
        }
    }
    let (status, error) = match outcome {
        Ok(true) => (Status::Succeeded, None),
        Ok(false) => {
            notes.push("stopped between pages; the parent resumes at its checkpoint next run".into());
            (Status::Interrupted, None)
        }
        Err(e) => (Status::Failed, Some(e)),
    };
    let note = (!notes.is_empty()).then(|| notes.join("; "));
    finished(m, stream.name, "parents", run_id, status, tally, note, error).await
}

/// The run's deletes: gone parents through their list stream (their rows
/// with them), then rows missed twice, each under the delete guard.
async fn settle(
    m: &Mirror,
    stream: &NestedStream,
    parent: &'static streams::ListStream,
    gone: &[String],
    tally: &mut Tally,
) -> anyhow::Result<Vec<String>> {
    let mut notes = Vec::new();
    if let Some(note) = deletes::confirmed(m, parent, gone, tally).await? {
        notes.push(note);
    }
    let mut tx = m.pool.begin().await.context("Failed to start a transaction")?;
    tally.deleted += nested_store::delete_orphans(&mut tx, stream).await?;
    let (live, twice) = nested_store::count_live(&mut tx, stream).await?;
    if twice > deletes::allowed(live, m.settings.max_delete_fraction) {
        tally.delete_refused += twice;
        let note = format!(
            "delete guard: this run would mark {twice} of {live} live rows of {} deleted, more than \
             sync.max_delete_fraction ({}); none were marked. If the account really lost them, run once \
             with TOKPORTAL__SYNC__MAX_DELETE_FRACTION=1",
            stream.table, m.settings.max_delete_fraction
        );
        tracing::warn!(stream = stream.name, twice, live, "{note}");
        notes.push(note);
    } else if twice > 0 {
        tally.deleted += nested_store::delete_twice_missed(&mut tx, stream).await?;
    }
    tx.commit().await.context("Failed to commit the deletes")?;
    Ok(notes)
}

fn excerpt_of(id: &str) -> String {
    id.chars().take(80).collect()
}
