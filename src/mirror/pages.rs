//! The page loop of a list stream's run: pages read ahead, several in
//! flight as the budget allows (see [`crate::api::ahead`]), and written in
//! order, each in one transaction with the ids it delivered, the tally and
//! the checkpoint; up to three page transactions are in flight, and commit
//! one after the other ([`writer`]). A page that fails ends the walk there: the pages
//! after it are dropped unwritten or rolled back, and the next run resumes
//! at the last committed page.

mod maybe_seen;
mod writer;

use std::time::Instant;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use super::context::Mirror;
use super::rows::{Upserted, excerpt, id_of};
use super::streams::ListStream;
use super::tally::Tally;
use super::walk::Reading;
use super::{problems, store};
use crate::api::ahead::Ahead;
use crate::api::cursor::{Absorbed, Read};
use crate::api::{CounterSnapshot, Walk, is_safe_id};
use sqlx::PgConnection;
use writer::{Writer, Written};

/// How a walk's page loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    /// Every page was read.
    Complete,
    /// A routine ledger run reached rows it already holds.
    Head,
    Cancelled,
}

/// How a page's transaction begins (one round trip, simple protocol).
/// `SET LOCAL` ends with the transaction:
/// - No sequential scans: a first walk fills the mirrored table and
///   `sync_seen` faster than autovacuum's ANALYZE follows, and with the
///   statistics of an empty table the planner picks sequential scans, which
///   make each page cost grow with the account. A page touches at most
///   `per_page` rows, each by its key: an index probe is always the right plan.
/// - No wait for the WAL flush at commit: the page's rows and its checkpoint
///   still commit atomically; a Postgres crash can only lose the last pages
///   committed, checkpoint included, and the next run reads them again.
/// - Generic plans: a page's statements take arrays of a page's values,
///   whose plan does not depend on them (every row found by its key), and
///   planning the upsert again for each page cost about as much as running
///   it did for a page of unchanged rows (1.1 ms of 2.2 ms, read by hand in
///   `pg_stat_statements`).
pub const PAGE_TRANSACTION: &str = "BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL synchronous_commit = off; \
    SET LOCAL plan_cache_mode = force_generic_plan";

/// Page transactions a walk keeps open at once: the page being begun while
/// the two before it write and commit. Two left about a sixth of a 2-core
/// machine idle during a walk without a rate limit (each page waits for the
/// one before it to commit); three fill it. With the stream's lock, a walk
/// holds up to four connections of the pool.
pub(super) const PAGES_IN_FLIGHT: usize = 3;

#[allow(clippy::too_many_arguments)]
pub(super) async fn pages(
    m: &Mirror,
    stream: &'static ListStream,
    run_id: i64,
    start_page: u32,
    reading: &Reading,
    tally: &mut Tally,
    before: &CounterSnapshot,
    cancel: &CancellationToken,
) -> anyhow::Result<End> {
    let mut writer = Writer::new(m.pool.clone(), m.client.clone(), stream, run_id, *before, *tally);
    let walked = walk_pages(m, stream, start_page, reading, &mut writer, cancel).await;
    // Whatever ended the walk, the pages in flight commit (or roll back after a failed one).
    let settled = writer.settle(0).await;
    *tally = writer.tally();
    match (walked, settled) {
        (Err(e), _) | (Ok(_), Err(e)) => Err(e),
        (Ok(end), Ok(_)) => Ok(end),
    }
}

async fn walk_pages(
    m: &Mirror,
    stream: &ListStream,
    start_page: u32,
    reading: &Reading,
    writer: &mut Writer,
    cancel: &CancellationToken,
) -> anyhow::Result<End> {
    let query = match reading {
        Reading::Since { param, value } => vec![(param.to_string(), value.clone())],
        Reading::All | Reading::Head => Vec::new(),
    };
    let head = *reading == Reading::Head;
    let mut walk =
        Walk::new(m.client.clone(), stream.path, query, m.settings.per_page)?.starting_at(start_page);
    let mut progress = Progress::new(m);
    let mut forward = None;
    // The next pages' GETs, sent while this page is written: the requests
    // and the transactions overlap instead of taking turns. A run of a
    // ledger's head may stop at any page, so it does not read ahead, nor
    // write a page before the one before it committed.
    let mut ahead = (!head).then(|| {
        let first = (start_page == 1 && *reading == Reading::All).then(|| m.take_first_page(stream.name));
        first.flatten().unwrap_or_else(|| Ahead::new(walk.fetcher(), m.in_flight_memory))
    });
    let in_flight = if head { 0 } else { PAGES_IN_FLIGHT - 1 };
    while let Some(read) = walk.next_read() {
        if cancel.is_cancelled() {
            return Ok(End::Cancelled);
        }
        if walk.cursor_mut().is_looping() {
            anyhow::bail!(
                "{}: the walk read {} pages without reaching the end; the list keeps changing or the server ignores `page`",
                stream.path,
                walk.cursor_mut().stats().pages
            );
        }
        let fetched = match &mut ahead {
            Some(ahead) => ahead.take(read).await,
            None => walk.fetch(read).await,
        };
        // Stopping while the page waited for the budget: nothing was sent,
        // every page before it is committed (or in flight, and commits).
        let list = match fetched {
            Err(e) if e.is_cancelled() => return Ok(End::Cancelled),
            other => other?,
        };
        let received = list.data.len();
        let ids: Vec<String> = list.data.iter().filter_map(id_of).collect();
        let (tx, known) = writer.begin(&ids).await?;
        let mut absorbed = walk.cursor_mut().absorb(read, list, &known);
        let poison = set_aside(stream, &mut absorbed.page.items);
        if !read.reread {
            forward = Some(read.page);
        }
        let total = absorbed.page.total;
        writer.write(writer::Page { tx, absorbed, poison, read, forward, received });
        let written = match &mut ahead {
            Some(ahead) if !cancel.is_cancelled() => {
                ahead.set_total(total);
                tokio::select! {
                    written = writer.settle(in_flight) => written?,
                    never = ahead.pump() => match never {},
                }
            }
            _ => writer.settle(in_flight).await?,
        };
        for page in written {
            progress.page(m, stream, &page, writer.tally());
            if head && page.received > 0 && page.up.inserted == 0 {
                return Ok(End::Head);
            }
        }
    }
    for page in writer.settle(0).await? {
        progress.page(m, stream, &page, writer.tally());
    }
    Ok(End::Complete)
}

/// The walk's progress, shown as pages commit.
struct Progress {
    started: Instant,
    every: f64,
    next: f64,
}

impl Progress {
    fn new(m: &Mirror) -> Progress {
        let every = m.settings.progress_every.as_secs_f64();
        Progress { started: Instant::now(), every, next: every }
    }

    fn page(&mut self, m: &Mirror, stream: &ListStream, page: &Written, tally: Tally) {
        let total_pages = page.total.map(|t| t.div_ceil(u64::from(m.settings.per_page)));
        m.advance(stream.name, u64::from(page.read.page), total_pages);
        let elapsed = self.started.elapsed().as_secs_f64();
        if elapsed >= self.next {
            // At the key's sustained rate: what the budget allows, whatever the server's speed.
            let eta_secs = total_pages.map(|t| {
                (t.saturating_sub(u64::from(page.read.page)) as f64 / m.settings.rate_per_second).round()
                    as u64
            });
            tracing::info!(
                stream = stream.name,
                page = page.read.page,
                total_pages,
                eta_secs,
                items = tally.items,
                requests = tally.requests,
                elapsed_secs = elapsed as u64,
                "walking"
            );
            self.next = elapsed + self.every;
        }
    }
}

/// A list item the mirror cannot hold, set aside in `sync_problems`.
pub(super) struct Poison {
    /// Its place on the page as served.
    index: usize,
    code: &'static str,
    excerpt: String,
}

/// Takes out of `items` those without a usable id: none (`NO_ID`), or, for a
/// stream whose ids go into URLs (a detail endpoint, children), an id that is
/// not one safe path segment (`UNSAFE_ID`).
fn set_aside(stream: &ListStream, items: &mut Vec<serde_json::Value>) -> Vec<Poison> {
    let in_urls = stream.detail.is_some() || stream.children;
    let mut poison = Vec::new();
    let mut index = 0;
    items.retain(|item| {
        let code = match id_of(item) {
            None => Some("NO_ID"),
            Some(id) if in_urls && !is_safe_id(&id) => Some("UNSAFE_ID"),
            Some(_) => None,
        };
        if let Some(code) = code {
            poison.push(Poison { index, code, excerpt: excerpt(&store::stored(item, stream.strip_secrets)) });
        }
        index += 1;
        code.is_none()
    });
    poison
}

/// A page's problems and rows, in its transaction; returns what the upsert
/// did and what the page adds to the run's tally.
async fn upsert_page(
    tx: &mut PgConnection,
    stream: &ListStream,
    absorbed: &Absorbed,
    poison: &[Poison],
    read: Read,
    probe: store::Probe,
) -> anyhow::Result<(Upserted, impl FnOnce(&mut Tally) + use<>)> {
    for p in poison {
        let subject = format!("page {} item {}", read.page, p.index);
        problems::record(&mut *tx, stream.name, &subject, p.code, &p.excerpt).await?;
        tracing::warn!(stream = stream.name, page = read.page, code = p.code, item = %p.excerpt, "list item set aside");
    }
    let up = store::upsert_page(&mut *tx, stream, &absorbed.page.items, probe)
        .await
        .with_context(|| format!("GET {} page {}", stream.path, read.page))?;
    let (problems, items) = (poison.len() as u64, absorbed.page.items.len() as u64);
    let add = move |tally: &mut Tally| {
        tally.problems += problems;
        tally.pages += 1;
        tally.rereads += u64::from(read.reread);
        tally.items += items;
        tally.inserted += up.inserted;
        tally.updated += up.updated + up.revived;
        tally.unchanged += up.unchanged;
    };
    Ok((up, add))
}
