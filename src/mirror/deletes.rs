//! The one delete rule of the mirror, for every stream. A row is marked
//! deleted only on proof:
//! - a stream with a detail endpoint (`bundles`, `accounts`, `comments`,
//!   `webhook_endpoints`): after a complete walk,
//!   each live row it did not see is asked for with `GET {detail}{id}`; only
//!   the documented not-found code confirms the delete, an answer upserts
//!   it. An offset walk over a list whose order reshuffles ties misses live
//!   rows walk after walk, so a miss alone never deletes. When more rows are
//!   missing than one run may check (`sync.max_delete_checks`, and what is
//!   left of `sync.max_requests_per_run` after the pages), those missed by
//!   the most walks in a row are checked first; the rest stay live, and the
//!   run says so (`sync_runs.delete_unchecked`, its note, the log, a metric);
//! - a stream with no detail endpoint (`credit_transactions`,
//!   `account_bans`): a row is marked deleted once two consecutive complete
//!   walks missed it;
//! - a child request answered the bundle's not-found code: the bundle is
//!   gone ([`confirmed`], called by `children` at the end of its run).
//!
//! Every delete of a run, however it was confirmed, counts toward
//! `sync.max_delete_fraction` of the live rows ([`allowed`]): past it the run
//! marks none, and records and logs why. Rows of a deleted bundle's children
//! are marked with it.

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::context::Mirror;
use super::refresh::list_item;
use super::streams::ListStream;
use super::tally::Tally;
use super::{problems, store};
use crate::api::in_flight::InFlight;
use crate::api::{ApiError, ApiResponse, is_safe_id};

/// Delete checks in flight at most (each answer is one small row).
const CHECKS_IN_FLIGHT: usize = 64;

/// How many rows of `live` one run may mark deleted. At least one when the
/// fraction allows any: `floor(4 × 0.2)` would otherwise forbid a small
/// account from ever losing a row.
pub fn allowed(live: u64, fraction: f64) -> u64 {
    let share = (live as f64 * fraction).floor() as u64;
    if fraction > 0.0 { share.max(1) } else { share }
}

/// Settles the deletes of a complete walk; returns a note for the run.
pub async fn settle(
    m: &Mirror,
    stream: &ListStream,
    run_id: i64,
    started: DateTime<Utc>,
    tally: &mut Tally,
) -> anyhow::Result<Option<String>> {
    let mut tx = m.pool.begin().await.context("Failed to start a transaction")?;
    let (missing, twice) = store::note_missed(&mut tx, stream, run_id, started).await?;
    let Some(detail) = stream.detail else {
        let live = store::count_live(&mut tx, stream).await?;
        let note = if twice > allowed(live, m.settings.max_delete_fraction) {
            Some(refused(stream, twice, live, m.settings.max_delete_fraction, tally))
        } else {
            tally.deleted += store::delete_twice_missed(&mut tx, stream).await?;
            let waiting = missing.saturating_sub(twice);
            (waiting > 0).then(|| {
                format!("{waiting} rows missed by this walk are marked deleted if the next complete walk misses them too")
            })
        };
        tx.commit().await.context("Failed to commit the missed rows")?;
        return Ok(note);
    };
    tx.commit().await.context("Failed to commit the missed rows")?;
    if missing == 0 {
        return Ok(None);
    }
    // The checks are requests of the run, like a child stream's.
    let left = u64::from(m.settings.max_requests_per_run).saturating_sub(tally.requests);
    let limit = u64::from(m.settings.max_delete_checks).min(left) as u32;
    let mut conn = m.pool.acquire().await.context("Failed to get a connection")?;
    let ids = store::unseen_ids(&mut conn, stream, run_id, started, limit).await?;
    drop(conn);
    let mut notes = Vec::new();
    let unchecked = missing - ids.len() as u64;
    let (mut gone, mut unsure) = (Vec::new(), 0u64);
    let (ids, unsafe_ids): (Vec<String>, Vec<String>) = ids.into_iter().partition(|id| is_safe_id(id));
    for id in unsafe_ids {
        let text = "a missing row's id is not one safe path segment; nothing was requested and it stays live";
        tracing::warn!(stream = stream.name, id, "{text}");
        let mut conn = m.pool.acquire().await.context("Failed to get a connection")?;
        problems::record(&mut conn, stream.name, &id, "UNSAFE_ID", text).await?;
        tally.problems += 1;
        unsure += 1;
    }
    // Several checks in flight as the budget gives sends, answers taken in order.
    let total = ids.len();
    let mut queue = ids.into_iter();
    let mut flight = InFlight::new(CHECKS_IN_FLIGHT);
    let mut refill = |flight: &mut InFlight<(String, Result<ApiResponse, ApiError>)>| {
        while flight.room() {
            let Some(id) = queue.next() else { return };
            let path = format!("{}{id}", detail.path);
            flight.launch(&m.client, move |client| async move { (id, client.get(&path, &[]).await) });
        }
    };
    let mut checked = 0;
    while let Some((id, answer)) = flight.next(&mut refill).await {
        checked += 1;
        tally.delete_checks += 1;
        match answer {
            Err(ApiError::NotFound { code, .. }) if detail.gone_codes.contains(&code.as_str()) => {
                gone.push(id)
            }
            Ok(found) => {
                let item = list_item(found.body);
                let mut tx = m.pool.begin().await.context("Failed to start a transaction")?;
                let up =
                    store::upsert_page(&mut tx, stream, std::slice::from_ref(&item), store::Probe::Lookup)
                        .await?;
                store::clear_missed(&mut tx, stream, &id).await?;
                tx.commit().await.context("Failed to commit a confirmed row")?;
                tally.inserted += up.inserted;
                tally.updated += up.updated + up.revived;
            }
            Err(
                e @ (ApiError::Unauthorized { .. } | ApiError::Budget { .. } | ApiError::RateLimited { .. }),
            ) => {
                return Err(e.into());
            }
            // Stopping: the rows not checked yet stay live (checked next walk).
            Err(ApiError::Cancelled { .. }) => {
                unsure += (total + 1 - checked) as u64;
                break;
            }
            Err(e) => {
                tracing::warn!(stream = stream.name, id, error = %e, "could not confirm a missing row; it stays");
                unsure += 1;
            }
        }
    }
    if unchecked > 0 {
        tally.delete_unchecked += unchecked;
        let note = format!(
            "{unchecked} missing rows were not checked (more than one run may check: sync.max_delete_checks, \
             sync.max_requests_per_run); they stay live and the longest missed are checked first next run"
        );
        tracing::warn!(stream = stream.name, unchecked, "{note}");
        notes.push(note);
    }
    if unsure > 0 {
        notes.push(format!("{unsure} missing rows could not be confirmed and stay live"));
    }
    if let Some(note) = confirmed(m, stream, &gone, tally).await? {
        notes.insert(0, note);
    }
    Ok((!notes.is_empty()).then(|| notes.join("; ")))
}

/// Marks `gone` (rows the API confirmed gone) deleted with their children,
/// unless they are more than the run may mark: then none, and the note says why.
pub async fn confirmed(
    m: &Mirror,
    stream: &ListStream,
    gone: &[String],
    tally: &mut Tally,
) -> anyhow::Result<Option<String>> {
    if gone.is_empty() {
        return Ok(None);
    }
    let mut tx = m.pool.begin().await.context("Failed to start a transaction")?;
    let live = store::count_live(&mut tx, stream).await?;
    let would = gone.len() as u64;
    if would > allowed(live, m.settings.max_delete_fraction) {
        return Ok(Some(refused(stream, would, live, m.settings.max_delete_fraction, tally)));
    }
    tally.deleted += store::mark_deleted(&mut tx, stream, gone).await?;
    tx.commit().await.context("Failed to commit the deletes")?;
    Ok(None)
}

fn refused(stream: &ListStream, would: u64, live: u64, fraction: f64, tally: &mut Tally) -> String {
    tally.delete_refused += would;
    let note = format!(
        "delete guard: this run would mark {would} of {live} live rows of {} deleted, more than \
         sync.max_delete_fraction ({fraction}); none were marked. If the account really lost them, \
         run once with TOKPORTAL__SYNC__MAX_DELETE_FRACTION=1",
        stream.table
    );
    tracing::warn!(stream = stream.name, would, live, "{note}");
    note
}

#[cfg(test)]
mod tests {
    use super::allowed;

    #[test]
    fn a_small_account_may_lose_one_row_unless_the_guard_forbids_every_delete() {
        assert_eq!(allowed(4, 0.2), 1);
        assert_eq!(allowed(50, 0.2), 10);
        assert_eq!(allowed(0, 0.2), 1);
        assert_eq!(allowed(50, 0.0), 0);
    }
}
