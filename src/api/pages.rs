//! The page walker: every item of a list endpoint, one page per call of
//! [`Walk::next_page`], each item delivered once, through the client (and so
//! the budget). Which page to read next is the [`Cursor`]'s decision; which ids
//! were delivered is a seen set's. `next_page` keeps that set in memory
//! ([`MemorySeen`]); a caller that keeps it elsewhere (the mirror, in the
//! transaction of each page) drives [`Walk::next_read`], [`Walk::fetch`] and
//! the cursor's `absorb` itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::ahead::Ahead;
use super::client::Client;
use super::cursor::{Cursor, MemorySeen, Page, Read, WalkStats};
use super::error::{ApiError, excerpt};
use super::model::{ListPage, Served};

pub struct Walk {
    fetcher: Fetcher,
    cursor: Cursor,
    seen: MemorySeen,
    /// Pages read ahead, when the walk keeps several in flight.
    ahead: Option<Ahead>,
}

/// What reads one page of a walk: owned, so a page can be read on a task
/// of its own while the walk goes on.
#[derive(Clone)]
pub struct Fetcher {
    pub(super) client: Client,
    path: String,
    query: Vec<(String, String)>,
    per_page: u32,
    /// The walk's clock: a tick for every page asked for and every answer
    /// (shared by the clones reading its pages ahead).
    clock: Arc<AtomicU64>,
}

impl Walk {
    /// A walk of `path` (with extra `query` filters), `per_page` items a page,
    /// from page 1. The walk owns `page` and `per_page`: a filter naming
    /// either is refused, since a server may honour either of two values of a
    /// repeated parameter and the walk would then go wrong without a sign.
    pub fn new(
        client: Client,
        path: &str,
        query: Vec<(String, String)>,
        per_page: u32,
    ) -> Result<Walk, ApiError> {
        let owned = |name: &str| name == "page" || name == "per_page";
        let in_path = url::form_urlencoded::parse(path.split_once('?').map_or("", |(_, q)| q).as_bytes())
            .map(|(k, _)| k.into_owned())
            .find(|k| owned(k));
        if let Some(name) = query.iter().map(|(k, _)| k.clone()).find(|k| owned(k)).or(in_path) {
            return Err(ApiError::Invalid {
                request: format!("GET {path}"),
                message: format!(
                    "a walk of every page sets `page` and `per_page` itself; remove `{name}` from the query \
                     (api.per_page sets the page size)"
                ),
            });
        }
        let fetcher = Fetcher {
            client,
            path: path.to_string(),
            query,
            per_page: per_page.max(1),
            clock: Arc::default(),
        };
        Ok(Walk { fetcher, cursor: Cursor::new(per_page, 1), seen: MemorySeen::new(), ahead: None })
    }

    /// Keeps several pages in flight (see [`Ahead`]), their memory bounded
    /// by `memory_cap` bytes.
    pub fn with_pages_in_flight(mut self, memory_cap: usize) -> Walk {
        self.ahead = Some(Ahead::new(self.fetcher.clone(), memory_cap));
        self
    }

    /// What reads this walk's pages, for a caller that keeps them in flight itself.
    pub fn fetcher(&self) -> Fetcher {
        self.fetcher.clone()
    }

    /// Starts the walk at `page` instead of 1 (to resume an interrupted walk).
    pub fn starting_at(mut self, page: u32) -> Walk {
        self.cursor = Cursor::new(self.cursor.per_page(), page);
        self
    }

    pub fn stats(&self) -> WalkStats {
        self.cursor.stats()
    }

    /// The page to read next; `None` once the walk is complete.
    pub fn next_read(&self) -> Option<Read> {
        self.cursor.next_read()
    }

    /// The cursor, for a caller that keeps its own seen set: it looks up
    /// `list.ids()` after [`Walk::fetch`] and passes what it knows to `absorb`.
    pub fn cursor_mut(&mut self) -> &mut Cursor {
        &mut self.cursor
    }

    /// Reads one page, with the in-memory seen set; `None` once every page has been delivered.
    pub async fn next_page(&mut self) -> Result<Option<Page>, ApiError> {
        let Some(read) = self.cursor.next_read() else { return Ok(None) };
        let list = match &mut self.ahead {
            Some(ahead) if !self.cursor.is_looping() => ahead.take(read).await?,
            _ => self.fetch(read).await?,
        };
        let known = self.seen.lookup(&list.ids());
        let absorbed = self.cursor.absorb(read, list, &known);
        self.seen.apply(&absorbed);
        if let Some(ahead) = &mut self.ahead {
            ahead.set_total(absorbed.page.total);
        }
        Ok(Some(absorbed.page))
    }

    /// One GET of the page `read` asks for, decoded. Refuses to send it once
    /// the walk has read so many pages that it must be looping, and refuses a
    /// page that says it is another one: a server that ignores or clamps
    /// `page` would look like a list whose head keeps growing, and the walk
    /// would end having read one page many times.
    pub async fn fetch(&self, read: Read) -> Result<ListPage, ApiError> {
        if self.cursor.is_looping() {
            return Err(self.fetcher.fatal(read.page, None, String::new(), format!(
                "the walk read {} pages without reaching the end; the list keeps changing or the server ignores `page`",
                self.cursor.stats().pages
            )));
        }
        self.fetcher.fetch(read.page).await
    }
}

impl Fetcher {
    /// One GET of `page`, decoded; a page that says it is another one is refused.
    pub async fn fetch(&self, page: u32) -> Result<ListPage, ApiError> {
        let mut query = self.query.clone();
        query.push(("page".into(), page.to_string()));
        query.push(("per_page".into(), self.per_page.to_string()));
        let asked = self.clock.fetch_add(1, Ordering::SeqCst) + 1;
        let response = self.client.get(&self.path, &query).await?;
        let answered = self.clock.fetch_add(1, Ordering::SeqCst) + 1;
        let status = Some(response.status);
        let request_id = response.request_id;
        let mut list = ListPage::from_body(response.body).map_err(|(e, mut shown)| {
            // Never a secret in an error (logged, stored with the run):
            // a malformed page of `GET /webhooks` may carry signing secrets.
            crate::secret::strip_secret_keys(&mut shown);
            let body = excerpt(shown.to_string().as_bytes());
            self.fatal(page, status, request_id.clone(), format!("not a page of a list ({e}): {body}"))
        })?;
        match list.pagination.and_then(|p| p.page) {
            Some(answered) if answered != u64::from(page) => Err(self.fatal(
                page,
                status,
                request_id,
                format!("the server answered page {answered}: it ignores or clamps `page`, so its pages cannot be walked"),
            )),
            _ => {
                list.served = Some(Served { asked, answered });
                Ok(list)
            }
        }
    }

    pub(super) fn per_page(&self) -> u32 {
        self.per_page
    }

    fn fatal(&self, page: u32, status: Option<u16>, request_id: String, excerpt: String) -> ApiError {
        ApiError::Fatal {
            request: format!("GET {} page {}", self.path, page),
            status,
            code: None,
            excerpt,
            request_id,
            details: None,
        }
    }
}
