//! A list served by offset pages that tests change between reads, the way
//! the server's list changes while a walk reads it; and a walk over it.

use std::collections::{BTreeMap, HashSet};

use serde_json::json;

use super::{Cursor, MemorySeen, Read, WalkStats};
use crate::api::model::{ListPage, Pagination, Served};

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
        ListPage { data, pagination: Some(pagination), served: None }
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

/// Walks `list` as [`crate::api::ahead::Ahead`] reads it: up to `window`
/// pages past the furthest page asked for are asked for ahead (once the list's
/// end is known), answered in an order `pick` chooses (given the pages
/// waiting, the index of the next to answer, or `None` to answer none now),
/// with `change` called before every answer with the page about to be
/// answered; pages read ahead past the
/// furthest asked for are kept when the walk steps back. Each change that
/// moves the list gives it a length it never had, so two answers at one
/// `total` have no change between them (the rule offsets cannot see past).
pub fn walk_ahead(
    list: &mut List,
    per_page: u32,
    window: u32,
    mut pick: impl FnMut(&[u32]) -> Option<usize>,
    mut change: impl FnMut(&mut List, u32),
) -> Walked {
    let mut always: HashSet<u64> = list.ids.iter().copied().collect();
    let mut lengths: HashSet<usize> = HashSet::from([list.ids.len()]);
    let (mut cursor, mut seen) = (Cursor::new(per_page, 1), MemorySeen::new());
    let (mut reads, mut delivered) = (Vec::new(), Vec::new());
    let (mut asked, mut answered) = (BTreeMap::<u32, u64>::new(), BTreeMap::<u32, ListPage>::new());
    let (mut tick, mut front, mut last_page) = (0u64, 0u32, None::<u32>);
    let mut answer = |list: &mut List, page: u32, asked_at: u64, tick: &mut u64| {
        let before = list.ids.clone();
        change(list, page);
        if list.ids != before {
            while lengths.contains(&list.ids.len()) {
                list.insert(list.ids.len() / 2);
            }
            lengths.insert(list.ids.len());
        }
        let present: HashSet<u64> = list.ids.iter().copied().collect();
        always.retain(|id| present.contains(id));
        *tick += 1;
        ListPage { served: Some(Served { asked: asked_at, answered: *tick }), ..list.page(page, per_page) }
    };
    while let Some(read) = cursor.next_read() {
        assert!(!cursor.is_looping(), "the walk loops: {reads:?}");
        reads.push(read);
        front = front.max(read.page);
        asked.retain(|&p, _| p == read.page || p > front);
        answered.retain(|&p, _| p == read.page || p > front);
        if !asked.contains_key(&read.page) && !answered.contains_key(&read.page) {
            tick += 1;
            asked.insert(read.page, tick);
        }
        if read.page == front {
            for p in front + 1..=last_page.unwrap_or(0).min(front + window) {
                if !asked.contains_key(&p) && !answered.contains_key(&p) {
                    tick += 1;
                    asked.insert(p, tick);
                }
            }
        }
        while let Some(i) = pick(&asked.keys().copied().collect::<Vec<_>>()).filter(|&i| i < asked.len()) {
            let (&p, &at) = asked.iter().nth(i).expect("an index below the length");
            asked.remove(&p);
            let page = answer(list, p, at, &mut tick);
            answered.insert(p, page);
        }
        let page = match answered.remove(&read.page) {
            Some(page) => page,
            None => {
                let at = asked.remove(&read.page).expect("asked above");
                answer(list, read.page, at, &mut tick)
            }
        };
        let absorbed = cursor.absorb(read, page.clone(), &seen.lookup(&page.ids()));
        seen.apply(&absorbed);
        let total = absorbed.page.total.unwrap_or(0);
        last_page = Some(u32::try_from(total.div_ceil(u64::from(per_page)).max(1)).unwrap_or(u32::MAX));
        delivered.extend(absorbed.page.items.iter().map(|item| item["id"].as_u64().expect("a numeric id")));
    }
    Walked { reads, delivered, always, stats: cursor.stats() }
}
