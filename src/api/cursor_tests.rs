//! The cursor against a list that changes in memory between reads, the way
//! offset pagination behaves on the server.

use std::collections::HashSet;

use serde_json::json;

use super::*;
use crate::api::model::Pagination;

/// A list served by offset pages; ids are numbers, order never changes.
struct List {
    ids: Vec<u64>,
    next_id: u64,
}

impl List {
    fn new(n: u64) -> List {
        List { ids: (0..n).collect(), next_id: n }
    }

    fn page(&self, page: u32, per_page: u32) -> ListPage {
        let start = ((page as usize) - 1) * per_page as usize;
        let data =
            self.ids.iter().skip(start).take(per_page as usize).map(|id| json!({ "id": id })).collect();
        let total = self.ids.len() as u64;
        ListPage {
            data,
            pagination: Some(Pagination {
                page: Some(u64::from(page)),
                per_page: Some(u64::from(per_page)),
                total: Some(total),
                total_pages: Some(total.div_ceil(u64::from(per_page))),
            }),
        }
    }

    fn insert(&mut self, at: usize) {
        self.ids.insert(at.min(self.ids.len()), self.next_id);
        self.next_id += 1;
    }
}

/// Walks `list`, calling `change` before every read; returns the delivered
/// ids in order and the ids present from start to end.
fn walk(list: &mut List, per_page: u32, mut change: impl FnMut(&mut List, u64)) -> (Vec<u64>, HashSet<u64>) {
    let mut always: HashSet<u64> = list.ids.iter().copied().collect();
    let mut cursor = Cursor::new(per_page, 1);
    let mut seen = MemorySeen::new();
    let mut delivered = Vec::new();
    let mut reads = 0;
    while let Some(read) = cursor.next_read() {
        assert!(!cursor.is_looping(), "the walk loops");
        change(list, reads);
        reads += 1;
        let present: HashSet<u64> = list.ids.iter().copied().collect();
        always.retain(|id| present.contains(id));
        let page = absorb(&mut cursor, &mut seen, read, list.page(read.page, per_page));
        delivered.extend(page.items.iter().map(|item| item["id"].as_u64().unwrap()));
    }
    (delivered, always)
}

/// One page through the cursor and an in-memory seen set.
fn absorb(cursor: &mut Cursor, seen: &mut MemorySeen, read: Read, list: ListPage) -> Page {
    let absorbed = cursor.absorb(read, list.clone(), &seen.lookup(&list.ids()));
    seen.apply(&absorbed);
    absorbed.page
}

fn assert_complete(delivered: &[u64], always: &HashSet<u64>) {
    let unique: HashSet<u64> = delivered.iter().copied().collect();
    assert_eq!(unique.len(), delivered.len(), "an item was delivered twice");
    let missed: Vec<_> = always.iter().filter(|id| !unique.contains(id)).collect();
    assert!(missed.is_empty(), "missed items that existed throughout: {missed:?}");
}

#[test]
fn a_stable_list_is_read_once_page_by_page() {
    let mut list = List::new(250);
    let (delivered, _) = walk(&mut list, 100, |_, _| {});
    assert_eq!(delivered, (0..250).collect::<Vec<_>>());
}

#[test]
fn deletes_before_the_cursor_do_not_hide_items() {
    let mut list = List::new(500);
    let (delivered, always) = walk(&mut list, 100, |list, reads| {
        if reads == 2 {
            list.ids.drain(0..130);
        }
    });
    assert_complete(&delivered, &always);
}

#[test]
fn inserts_at_the_head_are_not_delivered_twice() {
    let mut list = List::new(500);
    let (delivered, always) = walk(&mut list, 100, |list, reads| {
        if reads == 3 {
            (0..40).for_each(|_| list.insert(0));
        }
    });
    assert_complete(&delivered, &always);
}

#[test]
fn a_list_shrinking_below_the_cursor_is_read_again_from_its_new_end() {
    let mut list = List::new(1000);
    let (delivered, always) = walk(&mut list, 100, |list, reads| {
        if reads == 8 {
            list.ids.drain(0..600);
        }
    });
    assert_complete(&delivered, &always);
}

#[test]
fn random_inserts_or_deletes_between_reads_never_hide_an_item() {
    for seed in 1..300u64 {
        let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move |n: usize| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % n.max(1) as u64) as usize
        };
        let mut list = List::new(300 + next(400) as u64);
        // Before a quarter of the reads: up to 20 inserts or deletes anywhere,
        // close to a page (both at once could cancel out in `total` and be invisible).
        let (delivered, always) = walk(&mut list, 25, |list, _| match next(8) {
            0 => (0..next(20)).for_each(|_| {
                let at = next(list.ids.len() + 1);
                list.insert(at);
            }),
            1 => (0..next(20)).for_each(|_| {
                if !list.ids.is_empty() {
                    let at = next(list.ids.len());
                    list.ids.remove(at);
                }
            }),
            _ => {}
        });
        assert_complete(&delivered, &always);
    }
}

#[test]
fn an_empty_page_ends_the_walk_whatever_total_pages_says() {
    let mut cursor = Cursor::new(10, 1);
    let read = cursor.next_read().unwrap();
    let page = ListPage {
        data: vec![],
        pagination: Some(Pagination { total: Some(500), total_pages: Some(50), ..Default::default() }),
    };
    cursor.absorb(read, page, &Known::new());
    assert_eq!(cursor.next_read(), None);
}

#[test]
fn a_server_that_ignores_the_page_number_is_caught_by_the_loop_guard() {
    let list = List::new(30);
    let mut cursor = Cursor::new(10, 1);
    let mut seen = MemorySeen::new();
    let mut reads = 0;
    while let Some(read) = cursor.next_read() {
        if cursor.is_looping() {
            break;
        }
        // Always page 1, and a total that never stops growing.
        let mut page = list.page(1, 10);
        page.pagination =
            Some(Pagination { total: Some(30 + reads), total_pages: Some(5), ..Default::default() });
        absorb(&mut cursor, &mut seen, read, page);
        reads += 1;
    }
    assert!(cursor.is_looping() && reads == 8 * 5 + 16, "reads: {reads}");
}

#[test]
fn a_huge_total_pages_from_the_server_neither_panics_nor_looks_like_a_loop() {
    let mut cursor = Cursor::new(10, 1);
    let read = cursor.next_read().unwrap();
    let page = ListPage {
        data: (0..10).map(|id| json!({ "id": id })).collect(),
        pagination: Some(Pagination {
            page: Some(1),
            per_page: Some(10),
            total: Some(u64::MAX),
            total_pages: Some(u64::MAX),
        }),
    };
    let page = cursor.absorb(read, page, &Known::new()).page;
    assert_eq!(page.items.len(), 10);
    assert!(!cursor.is_looping());
    assert_eq!(cursor.next_read().map(|r| (r.page, r.reread)), Some((2, false)));
}

#[test]
fn an_item_twice_on_one_page_is_delivered_once_and_recorded_once() {
    let mut cursor = Cursor::new(10, 1);
    let read = cursor.next_read().unwrap();
    let page = ListPage {
        data: [1, 2, 1, 3].iter().map(|id| json!({ "id": id })).collect(),
        pagination: Some(Pagination { total: Some(4), total_pages: Some(1), ..Default::default() }),
    };
    let absorbed = cursor.absorb(read, page, &Known::new());
    let delivered: Vec<_> = absorbed.page.items.iter().map(|item| item["id"].as_u64().unwrap()).collect();
    assert_eq!(delivered, vec![1, 2, 3]);
    assert_eq!(absorbed.page.duplicates, 1);
    let recorded: Vec<_> = absorbed.new_ids.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(recorded, vec!["1", "2", "3"]);
}
