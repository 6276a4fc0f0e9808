//! The cursor taking in pages read ahead: answered before the walk asks for
//! them, in any order, while the list changes. Every item present throughout
//! is still delivered once, and a page answered late costs reading the page
//! after it again, not every page read ahead after it.

use super::test_list::{List, Rng, walk_ahead};

#[test]
fn pages_answered_in_any_order_while_the_list_changes_deliver_every_item_present_throughout_once() {
    for seed in 1..300u64 {
        let mut rng = Rng::new(seed);
        let per_page = 1 + rng.below(12) as u32;
        let window = 1 + rng.below(24) as u32;
        let mut list = List::new(rng.below(300));
        let rng = std::cell::RefCell::new(rng);
        let walked = walk_ahead(
            &mut list,
            per_page,
            window,
            |waiting| {
                let mut rng = rng.borrow_mut();
                (rng.below(3) != 0).then(|| rng.below(waiting.len()))
            },
            |list, _| {
                let mut rng = rng.borrow_mut();
                if rng.below(6) != 0 {
                    return;
                }
                // Up to a page of inserts and of deletes, at the head, anywhere or at the end.
                let at = |rng: &mut Rng, len: usize| match rng.below(3) {
                    0 => 0,
                    1 => rng.below(len + 1),
                    _ => len,
                };
                for _ in 0..rng.below(per_page as usize + 1) {
                    let i = at(&mut rng, list.ids.len());
                    list.insert(i);
                }
                for _ in 0..rng.below(per_page as usize + 1) {
                    let i = at(&mut rng, list.ids.len().saturating_sub(1));
                    list.delete(i);
                }
            },
        );
        eprintln!("seed {seed} per_page {per_page} window {window}");
        walked.assert_complete();
    }
}

#[test]
fn a_page_answered_late_after_head_inserts_costs_the_page_after_it_read_again_not_every_page_read_ahead() {
    // 30 pages of 10, 20 read ahead: page 5 is answered last (a 503 retried,
    // say), after 3 bundles were created at the head; the pages after it
    // were answered before.
    let mut list = List::new(300);
    let mut late = true;
    let walked = walk_ahead(
        &mut list,
        10,
        20,
        |waiting| match waiting.iter().position(|&p| p != 5) {
            Some(i) => Some(i),
            None => (!waiting.is_empty()).then_some(0),
        },
        |list, page| {
            if page == 5 && std::mem::take(&mut late) {
                (0..3).for_each(|_| list.insert(0));
            }
        },
    );
    walked.assert_complete();
    // Page 6, answered before page 5, is shifted against it: page 6 is read
    // again, and the pages read ahead after 6 follow page 6 as first read.
    // 31 pages once the list has 303 items, and page 6 again.
    assert_eq!((walked.stats.pages, walked.stats.rereads), (32, 1), "{:?}", walked.reads);
}
