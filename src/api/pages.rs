//! The page walker: every item of a list endpoint, one page per call of
//! [`Walk::next_page`], each item delivered once.
//!
//! Pages are offsets into a list that may change while it is walked. An
//! insert before the cursor pushes items onto pages still to come (they come
//! back as duplicates, dropped by id); a delete pulls unread items back onto
//! pages already read (they would be missed). The list's `total` is the only
//! visible sign of either, so when it changes the walker re-reads backwards
//! from the last page read before the change until it reaches a page holding
//! an item it had already delivered: items keep their relative order, so an
//! item never delivered lies after every delivered one. That way every item
//! that existed for the whole walk is delivered (changes that cancel out in
//! `total` stay invisible; nothing offset-based can see them).
//!
//! Memory holds the ids seen, never the items.

use std::collections::HashSet;

use serde_json::Value;

use super::client::Client;
use super::error::ApiError;
use super::model::{ListPage, item_id};

/// One page as delivered: only items not delivered before.
#[derive(Debug, Clone)]
pub struct Page {
    pub number: u32,
    pub items: Vec<Value>,
    /// A page read again because the list changed.
    pub reread: bool,
    /// Items on the page that were already delivered.
    pub duplicates: usize,
    /// `pagination.total` of this response.
    pub total: Option<u64>,
}

/// What a walk did, for `sync_runs` and the logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalkStats {
    pub pages: u64,
    pub rereads: u64,
    pub items: u64,
    pub duplicates: u64,
}

pub struct Walk {
    client: Client,
    path: String,
    query: Vec<(String, String)>,
    per_page: u32,
    next_forward: u32,
    forward_done: bool,
    /// Next page to re-read, going backwards.
    scan: Option<u32>,
    last_total: Option<u64>,
    /// Set from the first page: more page reads than this is a loop.
    max_pages: Option<u64>,
    seen: HashSet<String>,
    stats: WalkStats,
}

impl Walk {
    /// A walk of `path` (with extra `query` filters), `per_page` items a page.
    pub fn new(client: Client, path: &str, query: Vec<(String, String)>, per_page: u32) -> Walk {
        Walk {
            client,
            path: path.to_string(),
            query,
            per_page: per_page.max(1),
            next_forward: 1,
            forward_done: false,
            scan: None,
            last_total: None,
            max_pages: None,
            seen: HashSet::new(),
            stats: WalkStats::default(),
        }
    }

    /// Starts at `page` instead of 1 (a resumed walk).
    pub fn starting_at(mut self, page: u32) -> Walk {
        self.next_forward = page.max(1);
        self
    }

    pub fn stats(&self) -> WalkStats {
        self.stats
    }

    /// Reads one page; `None` once every page has been delivered.
    pub async fn next_page(&mut self) -> Result<Option<Page>, ApiError> {
        let (number, reread) = match self.scan {
            Some(page) => (page, true),
            None if !self.forward_done => (self.next_forward, false),
            None => return Ok(None),
        };
        self.guard(number)?;
        let (list, request) = self.fetch(number).await?;
        let pagination = list.pagination.unwrap_or_default();
        let total = pagination.total;
        let total_pages = pagination
            .total_pages
            .or_else(|| total.map(|t| t.div_ceil(u64::from(self.per_page))))
            .unwrap_or(u64::from(number));
        if self.max_pages.is_none() {
            // Generous: a list that changes under every page costs two reads
            // a page; beyond four something is wrong (or the server ignores `page`).
            self.max_pages = Some(4 * total_pages + 16);
        }
        let changed = matches!((self.last_total, total), (Some(a), Some(b)) if a != b);
        self.last_total = total.or(self.last_total);

        let empty = list.data.is_empty();
        let mut items = Vec::with_capacity(list.data.len());
        let mut duplicates = 0;
        for item in list.data {
            let fresh = item_id(&item).is_none_or(|id| self.seen.insert(id));
            if fresh {
                items.push(item);
            } else {
                duplicates += 1;
            }
        }
        let last = u32::try_from(total_pages).unwrap_or(u32::MAX);
        if reread {
            self.stats.rereads += 1;
            self.scan = if empty && number > last && last >= 1 {
                // The list shrank below this page: go on from its new end.
                Some(last)
            } else if duplicates > 0 || empty || number <= 1 {
                None
            } else {
                Some(number - 1)
            };
        } else {
            self.next_forward = number.saturating_add(1);
            self.forward_done = empty || number >= last;
        }
        if changed {
            // Re-read from the last page read before the change.
            let from = if reread { self.next_forward - 1 } else { number - 1 }.min(last);
            tracing::info!(request = %request, total, "the list changed during the walk; re-reading from page {from}");
            self.scan = (from >= 1).then_some(from);
        }
        self.stats.pages += 1;
        self.stats.items += items.len() as u64;
        self.stats.duplicates += duplicates as u64;
        Ok(Some(Page { number, items, reread, duplicates, total }))
    }

    fn guard(&self, number: u32) -> Result<(), ApiError> {
        match self.max_pages {
            Some(max) if self.stats.pages >= max => Err(ApiError::Fatal {
                request: format!("GET {} page {number}", self.path),
                status: None,
                code: None,
                excerpt: format!(
                    "the walk read {} pages without reaching the end; the list keeps changing \
                     or the server ignores `page`",
                    self.stats.pages
                ),
                request_id: String::new(),
            }),
            _ => Ok(()),
        }
    }

    async fn fetch(&self, number: u32) -> Result<(ListPage, String), ApiError> {
        let mut query = self.query.clone();
        query.push(("page".into(), number.to_string()));
        query.push(("per_page".into(), self.per_page.to_string()));
        let response = self.client.get(&self.path, &query).await?;
        let request = format!("GET {} page {number}", self.path);
        let list = serde_json::from_value::<ListPage>(response.body).map_err(|e| ApiError::Fatal {
            request: request.clone(),
            status: Some(response.status),
            code: None,
            excerpt: format!("not a page of a list: {e}"),
            request_id: response.request_id,
        })?;
        Ok((list, request))
    }
}
