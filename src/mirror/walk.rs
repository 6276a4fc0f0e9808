//! One run of a list stream: every page (or, for a ledger's routine run, its
//! head), each page in one transaction with the ids it delivered and the
//! checkpoint, so a run stopped in any way resumes from its last committed
//! page (read again: one page back), and only a complete walk that read
//! every page itself may mark rows deleted.

use std::time::Instant;

use anyhow::Context;
use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::runs::{self, Tally};
use super::streams::ListStream;
use super::{Mirror, RunSummary, Status, deletes, store};
use crate::api::cursor::{Absorbed, Read};
use crate::api::model::ListPage;
use crate::api::{ApiError, CounterSnapshot, Walk};

/// How a walk's page loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Every page was read.
    Complete,
    /// A routine ledger run reached rows it already holds.
    Head,
    Cancelled,
}

pub async fn run(
    m: &Mirror,
    stream: &'static ListStream,
    cancel: &CancellationToken,
) -> anyhow::Result<RunSummary> {
    let resume = runs::resume_point(&m.pool, stream.name).await?;
    let routine = stream.ledger
        && resume.is_none()
        && runs::last_full_walk(&m.pool, stream.name).await?.is_some_and(|at| {
            Utc::now().signed_duration_since(at).to_std().unwrap_or_default() < m.settings.full_walk_every
        });
    let kind = match (resume, routine) {
        (Some(_), _) => "resumed",
        (None, true) => "routine",
        (None, false) => "full",
    };
    let start_page = resume.map_or(1, |r| r.last_page);
    let resumed_from = resume.map(|r| r.last_page);
    let (run_id, started) = runs::start(&m.pool, stream.name, kind, resumed_from, None).await?;
    match resume {
        Some(r) => tracing::info!(
            stream = stream.name,
            run = run_id,
            page = start_page,
            interrupted_run = r.run_id,
            "resuming an interrupted walk from its last committed page"
        ),
        None => tracing::info!(stream = stream.name, run = run_id, kind, "walk started"),
    }
    let before = m.client.counters();
    let mut tally = Tally::default();
    let walked = pages(m, stream, run_id, start_page, routine, &mut tally, &before, cancel).await;
    let (status, complete, mut note, error) = match walked {
        Ok(End::Complete) => (Status::Succeeded, true, None, None),
        Ok(End::Head) => {
            (Status::Succeeded, false, Some("routine run: stopped at rows already held".into()), None)
        }
        Ok(End::Cancelled) => {
            (Status::Interrupted, false, Some("stopped between pages; resumes next run".into()), None)
        }
        Err(e) => (Status::Failed, false, None, Some(e)),
    };
    let seen_lost = status == Status::Succeeded && complete && kind == "full" && {
        let held = runs::seen_count(&m.pool, run_id).await?;
        held < tally.items
    };
    if seen_lost {
        note = Some(
            "the ids this walk saw were lost (did Postgres restart during the walk?): no row was marked deleted \
             this run"
                .into(),
        );
        tracing::warn!(stream = stream.name, run = run_id, "{}", note.as_deref().unwrap_or_default());
    } else if status == Status::Succeeded && complete && kind == "full" {
        match deletes::settle(m, stream, run_id, started, &mut tally).await {
            Ok(settled) => note = settled,
            Err(e) => {
                tally.spent(&m.client.counters(), &before);
                return finish(
                    m,
                    stream,
                    run_id,
                    kind,
                    resumed_from,
                    Status::Failed,
                    true,
                    tally,
                    note,
                    Some(e),
                )
                .await;
            }
        }
    } else if complete && kind == "resumed" {
        note = Some("resumed walk: rows it did not see are left for the next full walk".into());
    }
    tally.spent(&m.client.counters(), &before);
    finish(m, stream, run_id, kind, resumed_from, status, complete, tally, note, error).await
}

#[allow(clippy::too_many_arguments)]
async fn finish(
    m: &Mirror,
    stream: &'static ListStream,
    run_id: i64,
    kind: &'static str,
    resumed_from_page: Option<u32>,
    status: Status,
    complete: bool,
    tally: Tally,
    note: Option<String>,
    error: Option<anyhow::Error>,
) -> anyhow::Result<RunSummary> {
    let message = error.as_ref().map(|e| format!("{e:#}"));
    runs::finish(&m.pool, run_id, status.as_str(), complete, &tally, note.as_deref(), message.as_deref())
        .await?;
    Ok(RunSummary {
        run_id,
        stream: stream.name,
        kind,
        status,
        complete,
        resumed_from_page,
        tally,
        note,
        error,
    })
}

#[allow(clippy::too_many_arguments)]
async fn pages(
    m: &Mirror,
    stream: &ListStream,
    run_id: i64,
    start_page: u32,
    routine: bool,
    tally: &mut Tally,
    before: &CounterSnapshot,
    cancel: &CancellationToken,
) -> anyhow::Result<End> {
    let mut walk =
        Walk::new(m.client.clone(), stream.path, Vec::new(), m.settings.per_page)?.starting_at(start_page);
    let every = m.settings.progress_every.as_secs_f64();
    let (started, mut next_progress) = (Instant::now(), every);
    let mut forward = None;
    // The next page's GET, sent while this page is written: the request and
    // the transaction overlap instead of taking turns. A routine ledger run
    // may stop at any page, so it does not read ahead.
    let mut prefetched: Option<(Read, Result<ListPage, ApiError>)> = None;
    while let Some(read) = walk.next_read() {
        if cancel.is_cancelled() {
            return Ok(End::Cancelled);
        }
        if walk.cursor_mut().is_looping() {
            anyhow::bail!(
                "{}: the walk read {} pages without reaching the end; the list keeps changing or the server ignores `page`",
                stream.path,
                tally.pages
            );
        }
        let fetched = match prefetched.take() {
            Some((ahead, fetched)) if ahead == read => fetched,
            _ => walk.fetch(read).await,
        };
        // Stopping while the page waited for the budget: nothing was sent,
        // every page before it is committed.
        let list = match fetched {
            Err(e) if e.is_cancelled() => return Ok(End::Cancelled),
            other => other?,
        };
        let received = list.data.len();
        if let Some((index, item)) =
            list.data.iter().enumerate().find(|(_, item)| store::id_of(item).is_none())
        {
            anyhow::bail!(
                "GET {} page {}: not a page of a list: item {index} has no string or number `id`: {}",
                stream.path,
                read.page,
                store::excerpt(item)
            );
        }
        let ids: Vec<String> = list.data.iter().filter_map(store::id_of).collect();
        let mut tx = m
            .pool
            .begin_with(store::PAGE_TRANSACTION)
            .await
            .context("Failed to start the page's transaction")?;
        let known = runs::known(&mut tx, run_id, &ids).await?;
        let absorbed = walk.cursor_mut().absorb(read, list, &known);
        if !read.reread {
            forward = Some(read.page);
        }
        let write = write_page(m, stream, run_id, tx, &absorbed, read, forward, tally, before);
        let ahead = walk.next_read().filter(|_| !routine && !cancel.is_cancelled());
        let up = match ahead {
            Some(next) => {
                let (written, fetched) = tokio::join!(write, walk.fetch(next));
                prefetched = Some((next, fetched));
                written?
            }
            None => write.await?,
        };

        let total_pages = absorbed.page.total.map(|t| t.div_ceil(u64::from(m.settings.per_page)));
        m.advance(stream.name, u64::from(read.page), total_pages);
        let elapsed = started.elapsed().as_secs_f64();
        if elapsed >= next_progress {
            // At the key's sustained rate: what the budget allows, whatever the server's speed.
            let eta_secs = total_pages.map(|t| {
                (t.saturating_sub(u64::from(read.page)) as f64 / m.settings.rate_per_second).round() as u64
            });
            tracing::info!(
                stream = stream.name,
                page = read.page,
                total_pages,
                eta_secs,
                items = tally.items,
                requests = tally.requests,
                elapsed_secs = elapsed as u64,
                "walking"
            );
            next_progress = elapsed + every;
        }
        if routine && received > 0 && up.inserted == 0 {
            return Ok(End::Head);
        }
    }
    Ok(End::Complete)
}

/// Writes one absorbed page: its rows, the ids it delivered, the tally and
/// the checkpoint, in the page's transaction, then commits.
#[allow(clippy::too_many_arguments)]
async fn write_page(
    m: &Mirror,
    stream: &ListStream,
    run_id: i64,
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    absorbed: &Absorbed,
    read: Read,
    forward: Option<u32>,
    tally: &mut Tally,
    before: &CounterSnapshot,
) -> anyhow::Result<store::Upserted> {
    let up = store::upsert_page(&mut tx, stream, &absorbed.page.items)
        .await
        .with_context(|| format!("GET {} page {}", stream.path, read.page))?;
    tally.pages += 1;
    tally.rereads += u64::from(read.reread);
    tally.items += absorbed.page.items.len() as u64;
    tally.inserted += up.inserted;
    tally.updated += up.updated + up.revived;
    tally.unchanged += up.unchanged;
    tally.spent(&m.client.counters(), before);
    runs::record_page(&mut tx, run_id, absorbed, forward, tally).await?;
    tx.commit().await.with_context(|| format!("Failed to commit page {}", read.page))?;
    Ok(up)
}
