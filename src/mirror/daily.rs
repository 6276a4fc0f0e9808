//! One run of a daily snapshot stream (`account_analytics`): one request
//! per live parent row, in rotation (those fetched longest ago first, within
//! `sync.max_requests_per_run`, several in flight as the budget allows),
//! their answers stored one by one, one row per parent and day (see
//! `snapshots` for the day), rewritten only when it changed.
//!
//! A parent answered with the documented not-found code is gone: it is
//! marked deleted through its list stream's delete rule (under its guard),
//! the same proof that stream's detail endpoint gives. Any other failure of
//! one parent sets it aside in `sync_problems`; it never stops the run.

use anyhow::Context;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::child_fetch::{STORM, from_postgres, one_subjects};
use super::context::Mirror;
use super::parents_run;
use super::snapshot_store::{self, Written};
use super::snapshots::{day_of, object_of, stored};
use super::streams::DailyStream;
use super::summary::{Status, finished};
use super::tally::Tally;
use super::{RunSummary, deletes, parent_fetches, problems};
use crate::api::in_flight::InFlight;
use crate::api::{ApiError, ApiResponse, is_safe_id};

/// Requests in flight at most (each answer is one small object).
const IN_FLIGHT: usize = 64;

/// One account's answer: `None` when its id is not one safe path segment.
type Answered = (String, Option<Result<ApiResponse, ApiError>>);

pub async fn run(
    m: &Mirror,
    stream: &'static DailyStream,
    cancel: &CancellationToken,
) -> anyhow::Result<RunSummary> {
    let parent = stream.parent;
    let rate = m.settings.rate_per_second;
    let parents_run::Started { due, run_id, before, set_aside, waiting, plan, .. } = parents_run::start(
        m,
        stream.name,
        parent.table,
        "fetching each parent's snapshot",
        |due, live, waiting| {
            json!({
                "parents": live,
                "requests": due.len(),
                "deferred": live.saturating_sub(waiting).saturating_sub(due.len() as u64),
                "waiting_backoff": waiting,
                "seconds_at_budget": (due.len() as f64 / rate * 10.0).round() / 10.0,
            })
        },
    )
    .await?;
    let mut tally = Tally::default();
    let total = due.len() as u64;
    let mut queue = due.into_iter().map(|d| d.id);
    let mut flight = InFlight::new(IN_FLIGHT);
    let mut refill = |flight: &mut InFlight<Answered>| {
        while flight.room() && !cancel.is_cancelled() {
            let Some(id) = queue.next() else { return };
            let path = format!("{}{id}{}", stream.prefix, stream.suffix);
            flight.launch(&m.client, move |client| async move {
                if !is_safe_id(&id) {
                    return (id, None);
                }
                let answer = client.get(&path, &[]).await;
                (id, Some(answer))
            });
        }
    };
    let (mut done, mut storm, mut gone) = (0u64, 0, Vec::new());
    let mut outcome: anyhow::Result<bool> = Ok(true);
    while let Some((id, answer)) = flight.next(&mut refill).await {
        if cancel.is_cancelled() {
            outcome = Ok(false);
            break;
        }
        let stored = store_one(m, stream, &id, answer, set_aside.contains_key(&id), &mut tally).await;
        match stored {
            Ok(One::Stored) => storm = 0,
            Ok(One::Gone) => {
                storm = 0;
                gone.push(id);
            }
            Ok(One::Problem { retryable: true }) if storm + 1 >= STORM => {
                outcome = Err(anyhow::anyhow!(
                    "{STORM} parents in a row answered 5xx or not at all: the API is failing, not one parent"
                ));
                break;
            }
            Ok(One::Problem { retryable }) => storm = if retryable { storm + 1 } else { 0 },
            Err(e) => {
                outcome = if ApiError::cancelled_in(&e) { Ok(false) } else { Err(e) };
                break;
            }
        }
        done += 1;
        tally.spent(&m.client.counters(), &before);
        m.advance(stream.name, done, Some(total));
    }
    tally.spent(&m.client.counters(), &before);
    let mut notes = Vec::new();
    match deletes::confirmed(m, parent, &gone, &mut tally).await {
        Ok(Some(note)) => notes.push(note),
        Ok(None) => {}
        Err(e) => outcome = Err(e),
    }
    let deferred = plan["deferred"].as_u64().unwrap_or(0);
    if deferred > 0 {
        notes.push(format!("{deferred} parents wait for the next run (sync.max_requests_per_run)"));
    }
    if waiting > 0 {
        notes.push(format!("{waiting} parents set aside wait for their backoff (worker problems)"));
    }
    let (status, error) = match outcome {
        Ok(true) => (Status::Succeeded, None),
        Ok(false) => {
            notes.push("stopped between parents; the rest are fetched first next run".into());
            (Status::Interrupted, None)
        }
        Err(e) => (Status::Failed, Some(e)),
    };
    let note = (!notes.is_empty()).then(|| notes.join("; "));
    finished(m, stream.name, "parents", run_id, status, tally, note, error).await
}

/// What became of one parent.
enum One {
    Stored,
    Gone,
    Problem { retryable: bool },
}

/// Stores one parent's answer with the record of its fetch (and the end of
/// its problem, `was_problem`) in one transaction. `Err` only for what
/// stops the run.
async fn store_one(
    m: &Mirror,
    stream: &DailyStream,
    id: &str,
    answer: Option<Result<ApiResponse, ApiError>>,
    was_problem: bool,
    tally: &mut Tally,
) -> anyhow::Result<One> {
    let Some(answer) = answer else {
        let excerpt: String = id.chars().take(80).collect();
        let text = format!("the parent id {excerpt:?} is not one safe path segment; nothing was requested");
        return set_aside(m, stream, id, "UNSAFE_ID", &text, false, tally).await;
    };
    tally.pages += 1;
    let body = match answer {
        Ok(found) => found.body,
        Err(ApiError::NotFound { code, .. }) if stream.gone_codes.contains(&code.as_str()) => {
            tracing::info!(stream = stream.name, parent = id, "the parent no longer exists");
            return Ok(One::Gone);
        }
        Err(e) => {
            let Some((code, retryable)) = one_subjects(&e) else { return Err(e.into()) };
            return set_aside(m, stream, id, &code, &format!("{e}"), retryable, tally).await;
        }
    };
    let Some(data) = object_of(body.clone()) else {
        let text = format!("not an object: {}", super::rows::excerpt(&body));
        return set_aside(m, stream, id, "BAD_BODY", &text, false, tally).await;
    };
    let data = stored(data);
    let mut tx = m.pool.begin().await.context("Failed to start a transaction")?;
    let written = match snapshot_store::upsert_day(&mut tx, stream.table, id, day_of(&data), &data).await {
        Ok(written) => written,
        Err(e) if !from_postgres(&e) => {
            drop(tx);
            return set_aside(m, stream, id, "BAD_BODY", &format!("{e:#}"), false, tally).await;
        }
        Err(e) => return Err(e),
    };
    parent_fetches::fetched(&mut tx, stream.name, id).await?;
    if was_problem {
        problems::clear(&mut tx, stream.name, id).await?;
    }
    tx.commit().await.context("Failed to commit a snapshot")?;
    tally.items += 1;
    match written {
        Written::Inserted => tally.inserted += 1,
        Written::Updated => tally.updated += 1,
        Written::Unchanged => tally.unchanged += 1,
    }
    Ok(One::Stored)
}

async fn set_aside(
    m: &Mirror,
    stream: &DailyStream,
    id: &str,
    code: &str,
    text: &str,
    retryable: bool,
    tally: &mut Tally,
) -> anyhow::Result<One> {
    problems::set_aside_parent(&m.pool, stream.name, id, code, text, tally).await?;
    Ok(One::Problem { retryable })
}
