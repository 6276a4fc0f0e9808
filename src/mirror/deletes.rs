//! After a complete walk that read every page itself: the live rows it did
//! not see. An offset walk of a list with no documented order can miss a row
//! that still exists (rows sharing a sort key may come back in another order
//! on every request), so a missed row is never simply deleted:
//! - while few rows are missing (`sync.max_delete_checks`) each is asked for
//!   with `GET {detail}{id}`: a 404 confirms the delete, an answer upserts it;
//! - otherwise, or when the stream has no such endpoint, a row is marked
//!   deleted only once two consecutive complete walks missed it;
//! - and never more than `sync.max_delete_fraction` of the live rows in one
//!   run: the run then marks none, and records and logs why.
//!
//! Rows of a deleted bundle's children are marked with it.

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::context::Mirror;
use super::refresh::list_item;
use super::store;
use super::streams::ListStream;
use super::tally::Tally;
use crate::api::ApiError;

/// Settles the deletes of a complete walk; returns a note for the run.
pub async fn settle(
    m: &Mirror,
    stream: &ListStream,
    run_id: i64,
    started: DateTime<Utc>,
    tally: &mut Tally,
) -> anyhow::Result<Option<String>> {
    let mut conn = m.pool.acquire().await.context("Failed to get a connection")?;
    let missing = store::count_unseen(&mut conn, stream, run_id, started).await?;
    if missing == 0 {
        return Ok(None);
    }
    let live = store::count_live(&mut conn, stream).await?;
    let allowed = (live as f64 * m.settings.max_delete_fraction).floor() as u64;
    let checks = u64::from(m.settings.max_delete_checks);
    let Some(detail) = stream.detail.filter(|_| missing <= checks) else {
        let mut tx = m.pool.begin().await.context("Failed to start a transaction")?;
        let twice = store::note_missed(&mut tx, stream, run_id, started).await?;
        let note = if twice > allowed {
            Some(refused(stream, twice, live, m.settings.max_delete_fraction))
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
    let ids = store::unseen_ids(&mut conn, stream, run_id, started, m.settings.max_delete_checks).await?;
    drop(conn);
    let (mut gone, mut unsure, total) = (Vec::new(), 0u64, ids.len());
    for (checked, id) in ids.into_iter().enumerate() {
        tally.delete_checks += 1;
        match m.client.get(&format!("{}{id}", detail.path), &[]).await {
            Err(ApiError::NotFound { code, .. }) if code == detail.gone_code => gone.push(id),
            Ok(found) => {
                let item = list_item(found.body);
                let mut tx = m.pool.begin().await.context("Failed to start a transaction")?;
                let up = store::upsert_page(&mut tx, stream, std::slice::from_ref(&item)).await?;
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
                unsure += (total - checked) as u64;
                break;
            }
            Err(e) => {
                tracing::warn!(stream = stream.name, id, error = %e, "could not confirm a missing row; it stays");
                unsure += 1;
            }
        }
    }
    if gone.len() as u64 > allowed {
        return Ok(Some(refused(stream, gone.len() as u64, live, m.settings.max_delete_fraction)));
    }
    let mut tx = m.pool.begin().await.context("Failed to start a transaction")?;
    tally.deleted += store::mark_deleted(&mut tx, stream, &gone).await?;
    tx.commit().await.context("Failed to commit the deletes")?;
    Ok((unsure > 0).then(|| format!("{unsure} missing rows could not be confirmed and stay live")))
}

fn refused(stream: &ListStream, would: u64, live: u64, fraction: f64) -> String {
    let note = format!(
        "delete guard: this run would mark {would} of {live} live rows of {} deleted, more than \
         sync.max_delete_fraction ({fraction}); none were marked. If the account really lost them, \
         run once with TOKPORTAL__SYNC__MAX_DELETE_FRACTION=1",
        stream.table
    );
    tracing::warn!(stream = stream.name, would, live, "{note}");
    note
}
