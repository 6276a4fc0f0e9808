//! Where a page walk stands, and which page to read next: the logic of the
//! walker, apart from HTTP so it can be driven against a list changing in
//! memory.
//!
//! Pages are offsets into a list that may change while it is walked, in an
//! order nobody documents. An insert before the boundary between two pages
//! pushes items onto the page still to come (they come back as duplicates,
//! dropped by id); a delete before it pulls an unread item back onto a page
//! already read, and that item would be missed. Items keep their relative
//! order, whatever that order is, so the cursor reasons about *anchors*:
//! items known to lie before every item the walk has yet to deliver.
//!
//! A page is *clean*, and its items all become anchors, when nothing unread
//! can lie before it: it holds an anchor (whatever came before the anchor is
//! not unread, so the list moved forward there or not at all), or it is page
//! 1, or it follows the last clean page with `total` unchanged since that page
//! was read. Head inserts therefore cost nothing: the next page starts with
//! items of the one before. Any other page may have skipped items, so the
//! cursor reads backwards until a clean page: the pages read on the way, all
//! at one `total` (a *run*), are then clean too, and the walk goes on after
//! the highest. A run is also clean once a clean page holds one of its items,
//! at whatever `total`: the clean page reaches from before every unread item
//! into the run, and the run reaches on, without a gap, to its last item. That
//! is what keeps pages read ahead useful when the list changed while they were
//! in flight: a page answered before the page below it (a 503 retried later,
//! say) and shifted against it costs reading that page again, not every page
//! read ahead after it. The walk ends on a clean page that is empty or the
//! last of the latest `total_pages`.
//!
//! None of these rules depends on the order in which the server answered the
//! pages: an anchor lies before every unread item whenever a page is read, and
//! two pages at one `total` follow each other whenever both were answered.
//!
//! So every item that existed for the whole walk is delivered, whatever the
//! order and wherever the list changes, as long as items keep their relative
//! order and the changes between two reads do not cancel out in `total`
//! (nothing offset-based can see those: one delete before the boundary and
//! one insert after it look like no change at all).
//!
//! The set of ids seen lives outside the cursor (see [`seen`]): the cursor is
//! told what the set knows of a page's ids and answers what to record, so the
//! mirror can keep the set in Postgres and its memory does not grow with the
//! account.

mod seen;
mod since;
mod sorted;

use serde_json::Value;

use super::model::{ListPage, Served};

pub use seen::{Absorbed, Known, MemorySeen};
use since::Since;
use sorted::Sorted;

/// One page as delivered: only items not delivered before.
#[derive(Debug, Clone)]
pub struct Page {
    pub number: u32,
    pub items: Vec<Value>,
    /// A page read again (at or below the highest page read before) because
    /// items may have been skipped.
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
    /// The last clean page: every item the walk has yet to deliver lies after
    /// its items (0 before the first read of a walk from page 1).
    clean: u32,
    /// How the page after `clean` can follow it without an anchor.
    since: Since,
    /// Pages read since, at one `total`, not known clean yet.
    run: Option<Run>,
    /// The page to read next; `None` once the walk is complete.
    next: Option<u32>,
    /// The highest page read: a read at or below it is a re-read.
    highest: u32,
    /// Ticks for pages that come without [`Served`]: each read after the last.
    clock: u64,
    /// Set from the first page: more page reads than this is a loop.
    max_pages: Option<u64>,
    stats: WalkStats,
}

/// Consecutive pages `lo..=hi`, read at one `total` and holding no anchor:
/// clean as soon as page `lo - 1`, read next to them, is, or as soon as a
/// clean page holds one of their items.
#[derive(Debug)]
struct Run {
    lo: u32,
    hi: u32,
    /// Page `hi` was empty: the list ends there.
    ends: bool,
    /// Their ids, to become anchors.
    ids: Vec<String>,
    /// The list's last page at their `total`.
    last: u32,
    /// Their `total`, the latest answer among them, and changes seen since.
    since: Since,
}

/// A page taken in: its number, whether it was empty, the list's last page
/// and `total` as it says, and when it was served.
#[derive(Debug, Clone, Copy)]
struct Taken {
    number: u32,
    empty: bool,
    last: u32,
    total: Option<u64>,
    served: Served,
}

impl Cursor {
    pub fn new(per_page: u32, start_page: u32) -> Cursor {
        let start = start_page.max(1);
        Cursor {
            per_page: per_page.max(1),
            // A resumed walk trusts its first page, as a walk from page 1 does.
            clean: start - 1,
            since: Since::default(),
            run: None,
            next: Some(start),
            highest: start - 1,
            clock: 0,
            max_pages: None,
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
        self.next.map(|page| Read { page, reread: page <= self.highest })
    }

    /// True when the walk has read so many pages that it must be looping:
    /// a list that changes often costs a few reads a page, beyond eight
    /// something is wrong (or the list grows faster than it is read).
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
        let last = u32::try_from(total_pages).unwrap_or(u32::MAX);
        // The server says how many pages there are: saturate, never overflow.
        self.max_pages.get_or_insert(total_pages.saturating_mul(8).saturating_add(16));
        let served = list.served.unwrap_or_else(|| {
            self.clock += 2;
            Served { asked: self.clock - 1, answered: self.clock }
        });
        if self.since.differs(total) {
            tracing::debug!(page = number, total, "the list changed during the walk");
        }
        self.since.note(total, served);
        if let Some(run) = &mut self.run {
            run.since.note(total, served);
        }
        let empty = list.data.is_empty();
        let mut sorted = Sorted::of(list.data, known);
        let follows = number == self.clean.saturating_add(1) && self.since.matches(total, served);
        let taken = Taken { number, empty, last, total, served };
        if sorted.holds_anchor || number <= 1 || follows {
            self.settle(taken, &mut sorted);
        } else {
            self.step_back(taken, &mut sorted);
        }
        self.highest = self.highest.max(number);
        self.stats.pages += 1;
        self.stats.rereads += u64::from(read.reread);
        self.stats.items += sorted.items.len() as u64;
        self.stats.duplicates += sorted.duplicates as u64;
        let page =
            Page { number, items: sorted.items, reread: read.reread, duplicates: sorted.duplicates, total };
        Absorbed { page, new_ids: sorted.new_ids, anchors: sorted.anchors }
    }

    /// Page `number` is clean, and so is the run if it lies just above it,
    /// read next to it, or the page holds one of its items: everything up to
    /// the run's top is done. A run that does not join stays, above the page,
    /// for a later clean page to join.
    fn settle(&mut self, taken: Taken, sorted: &mut Sorted) {
        let Taken { number, empty, last, total, served } = taken;
        for (_, anchor) in &mut sorted.new_ids {
            *anchor = true;
        }
        let joins = self.run.as_ref().is_some_and(|run| {
            (run.lo == number.saturating_add(1) && run.since.matches(total, served))
                || sorted.unanchored.iter().any(|id| run.ids.contains(id))
        });
        sorted.anchors.append(&mut sorted.unanchored);
        self.since = Since::of(total, served);
        let (top, ends, last) = match self.run.take() {
            Some(mut run) if joins => {
                sorted.anchors.append(&mut run.ids);
                if run.hi >= number {
                    // The next page follows the run's top page: the pages read
                    // ahead with the run were read next to it, most likely.
                    self.since = run.since;
                }
                // Where the list ends is known at the `total` of the page reached.
                if run.hi > number { (run.hi, run.ends, run.last) } else { (number, empty, last) }
            }
            Some(run) => {
                if run.lo > number {
                    self.run = Some(run);
                }
                (number, empty, last)
            }
            None => (number, empty, last),
        };
        self.clean = top;
        self.next = if ends || top >= last { None } else { Some(top.saturating_add(1)) };
    }

    /// Page `number` may follow skipped items: it joins the run (just above
    /// it, read next to it) or starts one, and the cursor reads the page
    /// below. An empty page means the list now ends before it, on page
    /// `last`: the pages in between are empty too.
    fn step_back(&mut self, taken: Taken, sorted: &mut Sorted) {
        let Taken { number, empty, last, total, served } = taken;
        let mut ids = std::mem::take(&mut sorted.unanchored);
        ids.extend(sorted.new_ids.iter().map(|(id, _)| id.clone()));
        let since = Since::of(total, served);
        let run = match self.run.take() {
            Some(mut run)
                if !empty && run.lo == number.saturating_add(1) && run.since.matches(total, served) =>
            {
                run.lo = number;
                run.ids.append(&mut ids);
                run.since.answered = run.since.answered.max(served.answered);
                run
            }
            _ if empty => Run {
                lo: number.min(last.saturating_add(1)).max(1),
                hi: number,
                ends: true,
                ids,
                last,
                since,
            },
            _ => Run { lo: number, hi: number, ends: false, ids, last, since },
        };
        let below = run.lo - 1;
        // Answered before the clean page below it (retried, or slow): most likely served first too,
        // and shifted against it. Read again now, it holds items of both: the run joins.
        let answered_first = run.hi == number
            && number == self.clean.saturating_add(1)
            && served.answered < self.since.answered;
        self.run = Some(run);
        if below == 0 {
            // The list is empty: nothing can be hidden before page 1.
            self.settle(Taken { number: 0, empty: true, ..taken }, sorted);
        } else {
            self.next = Some(if answered_first && !empty { number } else { below });
        }
    }
}

#[cfg(test)]
mod ahead_tests;
#[cfg(test)]
mod test_list;
#[cfg(test)]
#[path = "cursor_tests.rs"]
mod tests;
