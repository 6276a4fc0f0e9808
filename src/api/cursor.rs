//! Where a page walk stands, and which page to read next: the logic of the
//! walker, apart from HTTP so it can be driven against a list changing in
//! memory.
//!
//! Pages are offsets into a list that may change while it is walked. An
//! insert before the cursor pushes items onto pages still to come (they come
//! back as duplicates, dropped by id); a delete pulls unread items back onto
//! pages already read (they would be missed). The list's `total` is the only
//! visible sign of either, so when it changes the cursor re-reads backwards
//! from the last page read before the change until it reaches a page holding
//! an item delivered while nothing was hidden: items keep their relative
//! order, so an item never delivered lies after every such item. A change
//! during the scan restarts it from the top. That way every
//! item that existed for the whole walk is delivered (changes that cancel out
//! in `total` stay invisible; nothing offset-based can see them).
//!
//! The set of ids seen lives outside the cursor (see [`seen`]): the cursor is
//! told what the set knows of a page's ids and answers what to record, so the
//! mirror can keep the set in Postgres and its memory does not grow with the
//! account.

mod seen;

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::model::{ListPage, item_id};

pub use seen::{Absorbed, Known, MemorySeen};

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

/// The next read a cursor asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read {
    pub page: u32,
    pub reread: bool,
}

#[derive(Debug)]
pub struct Cursor {
    per_page: u32,
    next_forward: u32,
    forward_done: bool,
    /// Next page to re-read, going backwards.
    scan: Option<u32>,
    last_total: Option<u64>,
    /// Set from the first page: more page reads than this is a loop.
    max_pages: Option<u64>,
    /// `total` changed and the backward scan has not finished yet.
    unsettled: bool,
    /// Ids read since the scan last (re)started.
    pass: Vec<String>,
    stats: WalkStats,
}

impl Cursor {
    pub fn new(per_page: u32, start_page: u32) -> Cursor {
        Cursor {
            per_page: per_page.max(1),
            next_forward: start_page.max(1),
            forward_done: false,
            scan: None,
            last_total: None,
            max_pages: None,
            unsettled: false,
            pass: Vec::new(),
            stats: WalkStats::default(),
        }
    }

    pub fn per_page(&self) -> u32 {
        self.per_page
    }

    pub fn stats(&self) -> WalkStats {
        self.stats
    }

    /// The page to read next; `None` when the walk is complete.
    pub fn next_read(&self) -> Option<Read> {
        match self.scan {
            Some(page) => Some(Read { page, reread: true }),
            None if !self.forward_done => Some(Read { page: self.next_forward, reread: false }),
            None => None,
        }
    }

    /// True when the walk has read so many pages that it must be looping:
    /// a list that changes often costs a few reads a page, beyond eight
    /// something is wrong (or the server ignores `page`).
    pub fn is_looping(&self) -> bool {
        self.max_pages.is_some_and(|max| self.stats.pages >= max)
    }

    /// Takes in the response to `read`, given what the seen set knows of its
    /// ids (`known`, from [`ListPage::ids`]); returns the items not delivered
    /// before and what the seen set must record.
    pub fn absorb(&mut self, read: Read, list: ListPage, known: &Known) -> Absorbed {
        let number = read.page;
        let pagination = list.pagination.unwrap_or_default();
        let total = pagination.total;
        let total_pages = pagination
            .total_pages
            .or_else(|| total.map(|t| t.div_ceil(u64::from(self.per_page))))
            .unwrap_or(u64::from(number));
        // The server says how many pages there are: saturate, never overflow.
        self.max_pages.get_or_insert(total_pages.saturating_mul(8).saturating_add(16));
        let changed = matches!((self.last_total, total), (Some(a), Some(b)) if a != b);
        self.last_total = total.or(self.last_total);
        if changed {
            self.unsettled = true;
            self.pass.clear();
        }
        let empty = list.data.is_empty();
        let mut marks = Marks::default();
        let (items, duplicates, holds_anchor) = self.dedup(list.data, known, &mut marks);
        let last = u32::try_from(total_pages).unwrap_or(u32::MAX);
        if read.reread {
            self.stats.rereads += 1;
            self.scan = if empty && number > last && last >= 1 {
                // The list shrank below this page: go on from its new end.
                Some(last)
            } else if holds_anchor || empty || number <= 1 {
                None
            } else {
                Some(number - 1)
            };
        } else {
            if !empty {
                self.next_forward = number.saturating_add(1);
            }
            self.forward_done = empty || number >= last;
        }
        if changed && self.forward_done && self.next_forward <= last {
            // Inserts pushed items past the page that looked like the end.
            self.forward_done = false;
        }
        if changed {
            // (Re)start from the last page read before the change.
            let from = if read.reread { self.next_forward - 1 } else { number - 1 }.min(last);
            tracing::debug!(page = number, total, from, "the list changed during the walk; re-reading");
            self.scan = (from >= 1).then_some(from);
        }
        if self.scan.is_none() && self.unsettled {
            self.settle(&mut marks);
        }
        self.stats.pages += 1;
        self.stats.items += items.len() as u64;
        self.stats.duplicates += duplicates as u64;
        let page = Page { number, items, reread: read.reread, duplicates, total };
        Absorbed { page, new_ids: marks.new_ids, anchors: marks.anchors }
    }

    /// Splits a page into items not delivered before and a count of the
    /// others, noting whether it holds an anchor: an item known to lie before
    /// every item not yet delivered (items keep their relative order). Items
    /// read while nothing can be hidden behind the cursor are anchors at once;
    /// items read while the list is unsettled become anchors when the scan
    /// that settles it ends.
    fn dedup(&mut self, data: Vec<Value>, known: &Known, marks: &mut Marks) -> (Vec<Value>, usize, bool) {
        let clean = !self.unsettled;
        let mut items = Vec::with_capacity(data.len());
        let (mut duplicates, mut holds_anchor) = (0, false);
        // Ids first met on this page: an id twice on one page is delivered once.
        let mut here: HashSet<String> = HashSet::new();
        for item in data {
            let Some(id) = item_id(&item) else {
                items.push(item);
                continue;
            };
            if !clean {
                self.pass.push(id.clone());
            }
            if let Some(&anchor) = known.get(&id) {
                duplicates += 1;
                holds_anchor |= anchor;
                if clean && !anchor && here.insert(id.clone()) {
                    marks.anchors.push(id);
                }
            } else if here.contains(&id) {
                duplicates += 1;
            } else {
                here.insert(id.clone());
                marks.new_ids.push((id, clean));
                items.push(item);
            }
        }
        (items, duplicates, holds_anchor)
    }

    /// The scan ended with no change since it (re)started: every item not yet
    /// delivered now lies beyond the forward cursor, after every item the scan read.
    fn settle(&mut self, marks: &mut Marks) {
        let mut fresh: HashMap<&str, usize> = HashMap::new();
        for (i, (id, _)) in marks.new_ids.iter().enumerate() {
            fresh.insert(id, i);
        }
        let mut flagged: HashSet<String> = marks.anchors.iter().cloned().collect();
        let mut raise = Vec::new();
        for id in self.pass.drain(..) {
            match fresh.get(id.as_str()) {
                Some(&i) => raise.push(i),
                None if flagged.insert(id.clone()) => marks.anchors.push(id),
                None => {}
            }
        }
        for i in raise {
            marks.new_ids[i].1 = true;
        }
        self.unsettled = false;
    }
}

/// What one `absorb` tells the seen set.
#[derive(Default)]
struct Marks {
    new_ids: Vec<(String, bool)>,
    anchors: Vec<String>,
}

#[cfg(test)]
#[path = "cursor_tests.rs"]
mod tests;
