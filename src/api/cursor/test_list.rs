//! A list served by offset pages that tests change between reads, the way
//! the server's list changes while a walk reads it; and a walk over it.

use std::collections::HashSet;

use serde_json::json;

use super::{Cursor, MemorySeen, Read, WalkStats};
use crate::api::model::{ListPage, Pagination};

/// A seeded xorshift generator: the same changes on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// Ids in an order unrelated to their values, as in a list sorted by
/// something the walk cannot see.
pub struct List {
    pub ids: Vec<u64>,
    made: u64,
}

impl List {
    pub fn new(n: usize) -> List {
        let mut list = List { ids: Vec::new(), made: 0 };
        (0..n).for_each(|_| list.insert(list.ids.len()));
        list
    }

    pub fn page(&self, page: u32, per_page: u32) -> ListPage {
        let start = (page as usize - 1) * per_page as usize;
        let data =
            self.ids.iter().skip(start).take(per_page as usize).map(|id| json!({ "id": id })).collect();
        let total = self.ids.len() as u64;
        let total_pages = Some(total.div_ceil(u64::from(per_page)));
        let pagination = Pagination {
            page: Some(u64::from(page)),
            per_page: Some(u64::from(per_page)),
            total: Some(total),
            total_pages,
        };
        ListPage { data, pagination: Some(pagination) }
    }

    /// A new item at `at` (clamped to the end).
    pub fn insert(&mut self, at: usize) {
        self.made += 1;
        let id = self.made.wrapping_mul(0xD6E8_FEB8_6659_FD93) >> 8;
        self.ids.insert(at.min(self.ids.len()), id);
    }

    /// Deletes the item at `at`, if there is one.
    pub fn delete(&mut self, at: usize) {
        if at < self.ids.len() {
            self.ids.remove(at);
        }
    }
}

pub struct Walked {
    /// The reads, in order.
    pub reads: Vec<Read>,
    /// Ids delivered, in order.
    pub delivered: Vec<u64>,
    /// Ids present at every read.
    pub always: HashSet<u64>,
    pub stats: WalkStats,
}

impl Walked {
    /// Every item present at every read was delivered, and none twice.
    pub fn assert_complete(&self) {
        let unique: HashSet<u64> = self.delivered.iter().copied().collect();
        assert_eq!(unique.len(), self.delivered.len(), "an item was delivered twice");
        let missed: Vec<_> = self.always.iter().filter(|id| !unique.contains(id)).collect();
        assert!(missed.is_empty(), "missed items that existed throughout: {missed:?}");
    }
}

/// Walks `list` with an in-memory seen set, calling `change` before every
/// read with the read about to happen.
pub fn walk(list: &mut List, per_page: u32, mut change: impl FnMut(&mut List, Read)) -> Walked {
    let mut always: HashSet<u64> = list.ids.iter().copied().collect();
    let (mut cursor, mut seen) = (Cursor::new(per_page, 1), MemorySeen::new());
    let (mut reads, mut delivered) = (Vec::new(), Vec::new());
    while let Some(read) = cursor.next_read() {
        assert!(!cursor.is_looping(), "the walk loops: {reads:?}");
        reads.push(read);
        change(list, read);
        let present: HashSet<u64> = list.ids.iter().copied().collect();
        always.retain(|id| present.contains(id));
        let page = list.page(read.page, per_page);
        let absorbed = cursor.absorb(read, page.clone(), &seen.lookup(&page.ids()));
        seen.apply(&absorbed);
        delivered.extend(absorbed.page.items.iter().map(|item| item["id"].as_u64().expect("a numeric id")));
    }
    Walked { reads, delivered, always, stats: cursor.stats() }
}
