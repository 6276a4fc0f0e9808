//! Pages in flight: a walk's next pages requested before it asks for them,
//! as many as the budget gives sends for now, and handed to the walk in the
//! order it asks, whatever the order they arrive in.
//!
//! A page is launched on a task of its own when no page already launched is
//! still waiting for the budget: pages leave as fast as the budget lets them
//! (see below for the burst), and at most one page of
//! the walk ever queues for the budget (a job or a webhook refresh asking
//! later never waits behind a pile of pages). Launching stops at the list's
//! last page (as its latest `total` says) and at the memory cap: the pages in
//! flight and those received but not taken yet count, each at about ten
//! times the JSON size of the largest page seen (a decoded item takes far
//! more room than its text).
//!
//! A page read ahead leaves unspent the share of what the bucket held when
//! the walk began reading ahead that the walk's pages still to come after it
//! are of its pages ([`crate::api::turns::Priority::ReadAhead`]), so the
//! burst is spent evenly over the walk instead of at its start (a walk
//! beginning on an empty bucket, after another walk, keeps nothing back).
//! The walk ends when it would have (the bucket is never full meanwhile, so
//! no refill is lost), and the pages
//! in flight are served one after the other instead of at once: a page
//! answered 503 is sent again at once, out of what the bucket holds, and is
//! served again soon after the page after it, which the list may have
//! shifted against it meanwhile (each shift costs reading that page again).
//!
//! Pages are handed over as answered, whatever happened to the list
//! meanwhile: the cursor's rules do not depend on the order in which the
//! server answered (see [`super::cursor`]). When the walk steps back to read
//! a page again (because items may have been skipped), nothing new is
//! launched, and the pages read ahead past the furthest page it asked for
//! are kept: it comes back to them.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::client::SendSignal;
use super::cursor::Read;
use super::error::ApiError;
use super::model::ListPage;
use super::pages::Fetcher;

/// `api.pages_in_flight_mib`'s default, in bytes.
pub const DEFAULT_MEMORY_CAP: usize = 32 << 20;

/// A page's memory before the first page says better: a full page of large items.
const FIRST_GUESS: usize = 1 << 20;

/// A page held in memory takes about this many times the room of its JSON
/// text: decoded items (a string, a map entry per field), the answer's
/// buffers, and what the allocator keeps between them (measured: a walk of
/// 1,000,000 bundles with no rate limit, peak RSS against pages held).
const DECODED: usize = 10;

type Joined = Result<Result<ListPage, ApiError>, tokio::task::JoinError>;

struct Task {
    handle: JoinHandle<Result<ListPage, ApiError>>,
    /// The request was given its send (it is not waiting for the budget).
    sent: Arc<AtomicBool>,
    /// Its answer, when [`Ahead::prime`] awaited it before the walk took it.
    done: Option<Joined>,
}

impl Drop for Task {
    fn drop(&mut self) {
        // A page nobody will take: its request is not sent, or its answer dropped.
        self.handle.abort();
    }
}

pub struct Ahead {
    fetcher: Fetcher,
    /// Launched and not taken, by page (the page being waited for included).
    tasks: BTreeMap<u32, Task>,
    wake: Arc<Notify>,
    memory_cap: usize,
    /// Memory of one page, from the largest seen.
    page_bytes: Option<usize>,
    pages_seen: u64,
    /// The list's last page, from the latest `total`; nothing is read ahead until known.
    last_page: Option<u32>,
    /// The furthest page the walk asked for: read-ahead starts after it.
    front: u32,
    /// The walk's last page asked for was its furthest: only then is the
    /// walk's next page known to follow it, and read ahead.
    forward: bool,
    /// The first page the walk asked for: its pages run from there to the last.
    first: Option<u32>,
    /// The share of the bucket holding tokens when the first page was read
    /// ahead: what the walk spreads over its pages.
    held: Option<f64>,
}

impl Ahead {
    pub fn new(fetcher: Fetcher, memory_cap: usize) -> Ahead {
        Ahead {
            fetcher,
            tasks: BTreeMap::new(),
            wake: Arc::new(Notify::new()),
            memory_cap,
            page_bytes: None,
            pages_seen: 0,
            last_page: None,
            front: 0,
            forward: false,
            first: None,
            held: None,
        }
    }

    /// The `total` of the page just taken in: where the list ends now.
    pub fn set_total(&mut self, total: Option<u64>) {
        let per_page = u64::from(self.fetcher.per_page());
        self.last_page = total.map(|t| u32::try_from(t.div_ceil(per_page).max(1)).unwrap_or(u32::MAX));
    }

    /// How many pages the memory cap allows in flight and waiting.
    pub fn max_pages(&self) -> usize {
        (self.memory_cap / self.page_bytes.unwrap_or(FIRST_GUESS).max(1)).max(1)
    }

    /// The page `read` asks for: read ahead already, or read now. Meanwhile
    /// (and after, see [`Ahead::pump`]) the pages after it are launched as
    /// the budget allows.
    pub async fn take(&mut self, read: Read) -> Result<ListPage, ApiError> {
        // This page and those past the furthest asked for stay.
        self.asking(read.page);
        let front = self.front;
        self.tasks.retain(|&page, _| page == read.page || page > front);
        if !self.tasks.contains_key(&read.page) {
            self.launch(read.page, None);
        }
        self.fill();
        let joined = loop {
            let Some(task) = self.tasks.get_mut(&read.page) else { unreachable!("launched above") };
            if let Some(joined) = task.done.take() {
                break joined;
            }
            tokio::select! {
                joined = &mut task.handle => break joined,
                () = self.wake.notified() => self.fill(),
            }
        };
        self.tasks.remove(&read.page);
        let list = match joined {
            Ok(answer) => answer?,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => return Err(ApiError::Cancelled { request: format!("GET page {}", read.page) }),
        };
        self.measure(&list);
        if self.forward {
            // The pages after it go now, not once the walk has written this one.
            self.set_total(list.pagination.and_then(|p| p.total));
            self.fill();
        }
        Ok(list)
    }

    /// Waits for `page` (asked for with [`Ahead::ask`]) to be answered and
    /// launches the pages after it as its `total` and the budget allow, then
    /// goes on launching as sends are given, forever: run it beside work done
    /// before the walk takes the page (a first sync's account check), so the
    /// bucket's burst is not left unspent, and refilling nothing, meanwhile.
    pub async fn prime(&mut self, page: u32) -> Infallible {
        self.asking(page);
        if let Some(task) = self.tasks.get_mut(&page)
            && task.done.is_none()
        {
            let joined = (&mut task.handle).await;
            let total = match &joined {
                Ok(Ok(list)) => list.pagination.and_then(|p| p.total),
                _ => None,
            };
            task.done = Some(joined);
            self.set_total(total);
        }
        self.pump().await
    }

    /// The walk asks for `page`: the pages read ahead follow the furthest
    /// page asked for, and the walk's pages run from the first.
    fn asking(&mut self, page: u32) {
        self.front = self.front.max(page);
        self.forward = page == self.front;
        self.first.get_or_insert(page);
    }

    /// Launches pages as sends are given, forever: run it beside the work
    /// done between two [`Ahead::take`]s (writing a page) so the budget's
    /// sends are not left unused meanwhile.
    pub async fn pump(&mut self) -> Infallible {
        loop {
            self.fill();
            self.wake.notified().await;
        }
    }

    /// Asks for `page` now, before the walk does (its first page, say, while
    /// something else is awaited).
    pub fn ask(&mut self, page: u32) {
        self.first.get_or_insert(page);
        if !self.tasks.contains_key(&page) {
            self.launch(page, None);
        }
    }

    /// Pages in flight or waiting to be taken.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    fn fill(&mut self) {
        let Some(last) = self.last_page.filter(|_| self.forward) else { return };
        while self.tasks.len() < self.max_pages()
            && self.tasks.values().all(|t| t.sent.load(Ordering::Acquire))
        {
            let next =
                self.tasks.last_key_value().map_or(self.front, |(&p, _)| p).max(self.front).saturating_add(1);
            if next > last {
                return;
            }
            // What the bucket held, in the share of the walk's pages still to come after this one.
            let first = self.first.unwrap_or(1).min(next);
            let held = *self.held.get_or_insert_with(|| self.fetcher.client.bucket_share_held());
            let share = held * f64::from(last - next) / f64::from(last - first + 1);
            self.launch(next, Some(share));
        }
    }

    /// Launches `page`; read ahead, leaving `share` of the bucket unspent.
    fn launch(&mut self, page: u32, ahead: Option<f64>) {
        let signal = SendSignal { sent: Arc::default(), wake: self.wake.clone() };
        let sent = signal.sent.clone();
        let mut fetcher = self.fetcher.clone();
        let client = match ahead {
            Some(share) => fetcher.client.reading_ahead(share),
            None => fetcher.client.clone(),
        };
        fetcher.client = client.with_on_send(signal);
        let handle = tokio::spawn(async move { fetcher.fetch(page).await });
        self.tasks.insert(page, Task { handle, sent, done: None });
    }

    /// Sizes a page from the first one and every 16th after (a page's JSON
    /// written again costs about as much as reading it).
    fn measure(&mut self, list: &ListPage) {
        if self.pages_seen.is_multiple_of(16) {
            let bytes = serde_json::to_vec(&list.data).map_or(0, |v| v.len()).saturating_mul(DECODED);
            self.page_bytes = Some(self.page_bytes.map_or(bytes, |b| b.max(bytes)).max(1));
        }
        self.pages_seen += 1;
    }
}
