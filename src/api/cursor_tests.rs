//! The cursor against a list changing in memory between reads, the way
//! offset pagination behaves on the server: wherever the list changes, every
//! item present throughout is delivered once, and the cursor reads a page
//! again only where an item may have been skipped.

use serde_json::json;

use super::test_list::{List, Rng, walk};
use super::*;
use crate::api::model::Pagination;

const PER_PAGE: u32 = 10;

/// Where the page `read` asks for starts in the list.
fn boundary(read: Read) -> usize {
    (read.page as usize - 1) * PER_PAGE as usize
}

/// Reads the next page of `list` through `cursor` and `seen`.
fn next(cursor: &mut Cursor, seen: &mut MemorySeen, list: &List, per_page: u32) -> Absorbed {
    let read = cursor.next_read().expect("a page to read");
    let page = list.page(read.page, per_page);
    let absorbed = cursor.absorb(read, page.clone(), &seen.lookup(&page.ids()));
    seen.apply(&absorbed);
    absorbed
}

fn ids(absorbed: &Absorbed) -> Vec<u64> {
    absorbed.page.items.iter().map(|item| item["id"].as_u64().expect("a numeric id")).collect()
}

#[test]
fn a_stable_list_is_read_once_page_by_page() {
    let mut list = List::new(250);
    let all = list.ids.clone();
    let walked = walk(&mut list, 100, |_, _| {});
    assert_eq!(walked.delivered, all);
    assert_eq!((walked.stats.pages, walked.stats.rereads), (3, 0));
}

#[test]
fn inserts_at_the_head_cost_no_reread_even_more_than_a_page_at_once() {
    let (mut list, mut rng) = (List::new(200), Rng::new(1));
    // Now and then more than a page between two reads, but fewer than two, so
    // the next page still holds an item of the last one.
    let walked = walk(&mut list, PER_PAGE, |list, _| {
        let k = PER_PAGE as usize;
        let inserts = if rng.below(5) == 0 { k + rng.below(k) } else { rng.below(3) };
        (0..inserts).for_each(|_| list.insert(0));
    });
    walked.assert_complete();
    assert_eq!(walked.stats.rereads, 0);
}

#[test]
fn inserts_anywhere_before_the_next_page_cost_no_reread() {
    let (mut list, mut rng) = (List::new(200), Rng::new(2));
    let walked = walk(&mut list, PER_PAGE, |list, read| {
        for _ in 0..rng.below(4) {
            let at = rng.below(boundary(read));
            list.insert(at);
        }
    });
    walked.assert_complete();
    assert_eq!(walked.stats.rereads, 0);
}

#[test]
fn a_delete_before_the_next_page_costs_one_reread_which_delivers_the_item_pulled_back() {
    let (mut list, mut rng, mut deletes) = (List::new(300), Rng::new(3), 0);
    let walked = walk(&mut list, PER_PAGE, |list, read| {
        if !read.reread && read.page % 3 == 0 {
            let at = rng.below(boundary(read));
            list.delete(at);
            deletes += 1;
        }
    });
    walked.assert_complete();
    assert_eq!(walked.stats.rereads, deletes);
}

#[test]
fn an_insert_after_the_boundary_costs_one_reread_since_it_could_hide_a_delete_before() {
    let (mut list, mut rng, mut inserts) = (List::new(300), Rng::new(4), 0);
    let walked = walk(&mut list, PER_PAGE, |list, read| {
        if !read.reread && read.page % 3 == 0 {
            let at = boundary(read) + rng.below(list.ids.len() - boundary(read));
            list.insert(at);
            inserts += 1;
        }
    });
    walked.assert_complete();
    assert_eq!(walked.stats.rereads, inserts);
}

#[test]
fn deletes_before_and_more_inserts_after_between_two_reads_hide_nothing() {
    // `total` grows, and yet three items fell behind the boundary.
    let mut list = List::new(300);
    let walked = walk(&mut list, PER_PAGE, |list, read| {
        if !read.reread && read.page == 5 {
            (0..3).for_each(|_| list.delete(boundary(read) - 5));
            (0..7).for_each(|_| list.insert(boundary(read) + 4));
        }
    });
    walked.assert_complete();
}

#[test]
fn a_list_shrinking_below_the_cursor_is_read_back_from_its_new_end() {
    let mut list = List::new(1000);
    let walked = walk(&mut list, 100, |list, read| {
        if read.page == 9 {
            list.ids.drain(0..600);
        }
    });
    walked.assert_complete();
    // Page 9 is past the new end (page 4): back from there to page 2, which
    // holds items of the old page 8, already delivered.
    let pages: Vec<u32> = walked.reads.iter().skip(8).map(|r| r.page).collect();
    assert_eq!(pages, vec![9, 4, 3, 2]);
}

#[test]
fn wherever_items_are_inserted_or_deleted_every_item_present_throughout_is_delivered_once() {
    for seed in 1..500u64 {
        let mut rng = Rng::new(seed);
        let per_page = 1 + rng.below(12) as u32;
        let mut list = List::new(rng.below(300));
        let walked = walk(&mut list, per_page, |list, read| {
            if rng.below(3) != 0 {
                return;
            }
            // Up to two pages of inserts and of deletes, each at the head, around
            // the page about to be read, anywhere, or at the end.
            let (before, around) = (list.ids.len(), (read.page as usize - 1) * per_page as usize);
            let at = |rng: &mut Rng, len: usize| match rng.below(4) {
                0 => 0,
                1 => (around + rng.below(2 * per_page as usize)).saturating_sub(per_page as usize),
                2 => rng.below(len + 1),
                _ => len,
            };
            for _ in 0..rng.below(2 * per_page as usize + 1) {
                let i = at(&mut rng, list.ids.len());
                list.insert(i);
            }
            for _ in 0..rng.below(2 * per_page as usize + 1) {
                let i = at(&mut rng, list.ids.len().saturating_sub(1));
                list.delete(i);
            }
            if list.ids.len() == before {
                // As many inserts as deletes between two reads is invisible to offsets.
                list.insert(at(&mut rng, before));
            }
        });
        walked.assert_complete();
    }
}

#[test]
fn a_page_that_may_follow_skipped_items_gives_its_ids_anchors_only_once_a_page_below_is_clean() {
    let (mut list, mut cursor, mut seen) = (List::new(40), Cursor::new(10, 1), MemorySeen::new());
    let first = next(&mut cursor, &mut seen, &list, 10);
    assert!(first.new_ids.iter().all(|(_, anchor)| *anchor), "page 1 is clean");
    let pulled_back = list.ids[10];
    list.delete(3);
    let second = next(&mut cursor, &mut seen, &list, 10);
    assert!(second.new_ids.iter().all(|(_, anchor)| !anchor) && second.anchors.is_empty());
    let back = next(&mut cursor, &mut seen, &list, 10);
    assert_eq!((back.page.number, back.page.reread, ids(&back)), (1, true, vec![pulled_back]));
    assert!(second.new_ids.iter().all(|(id, _)| back.anchors.contains(id)), "{:?}", back.anchors);
    assert_eq!(cursor.next_read(), Some(Read { page: 3, reread: false }));
}

#[test]
fn a_walk_resumed_at_a_later_page_starts_there_and_trusts_it() {
    let list = List::new(50);
    let (mut cursor, mut seen) = (Cursor::new(10, 3), MemorySeen::new());
    let first = next(&mut cursor, &mut seen, &list, 10);
    assert_eq!((first.page.number, first.page.reread), (3, false));
    assert_eq!(cursor.next_read(), Some(Read { page: 4, reread: false }));
}

#[test]
fn an_empty_page_ends_the_walk_whatever_total_pages_says() {
    let mut cursor = Cursor::new(10, 1);
    let read = cursor.next_read().unwrap();
    let page = ListPage {
        data: vec![],
        pagination: Some(Pagination { total: Some(500), total_pages: Some(50), ..Default::default() }),
        served: None,
    };
    cursor.absorb(read, page, &Known::new());
    assert_eq!(cursor.next_read(), None);
}

#[test]
fn a_list_growing_faster_than_it_is_read_is_caught_by_the_loop_guard() {
    let (mut list, mut cursor, mut seen) = (List::new(30), Cursor::new(10, 1), MemorySeen::new());
    let mut reads = 0;
    while cursor.next_read().is_some() && !cursor.is_looping() {
        (0..25).for_each(|_| list.insert(0));
        next(&mut cursor, &mut seen, &list, 10);
        reads += 1;
    }
    // Eight reads for each of the 6 pages of the first answer, plus 16.
    assert!(cursor.is_looping() && reads == 8 * 6 + 16, "reads: {reads}");
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
        served: None,
    };
    let page = cursor.absorb(read, page, &Known::new()).page;
    assert_eq!(page.items.len(), 10);
    assert!(!cursor.is_looping());
    assert_eq!(cursor.next_read(), Some(Read { page: 2, reread: false }));
}

#[test]
fn an_item_twice_on_one_page_is_delivered_once_and_recorded_once() {
    let mut cursor = Cursor::new(10, 1);
    let read = cursor.next_read().unwrap();
    let page = ListPage {
        data: [1, 2, 1, 3].iter().map(|id| json!({ "id": id })).collect(),
        pagination: Some(Pagination { total: Some(4), total_pages: Some(1), ..Default::default() }),
        served: None,
    };
    let absorbed = cursor.absorb(read, page, &Known::new());
    assert_eq!((ids(&absorbed), absorbed.page.duplicates), (vec![1, 2, 3], 1));
    let recorded: Vec<_> = absorbed.new_ids.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(recorded, vec!["1", "2", "3"]);
}
