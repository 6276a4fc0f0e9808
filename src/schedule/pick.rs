//! Continuous mode's choice of what to refresh next, on the mirror's
//! [`Staleness`], most likely stale first:
//! 1. a list walk, when it is due: never walked, or its last walk started at
//!    least `1 / WALK_SHARE` times its length ago (and at least `min_gap`),
//!    so while children wait the walks take about half the budget; among
//!    the lists due, the one whose last walk is oldest;
//! 2. the children of bundles new or changed since their children were
//!    fetched (the walk saw them move);
//! 3. terminal bundles' children older than `sync.children_full_refresh`
//!    (the longest any bundle's children go unrefreshed);
//! 4. the children of non-terminal bundles, the stream with the oldest first;
//! 5. last, the rotation: terminal bundles' children, oldest first;
//! 6. with nothing else to do, the list whose last walk is oldest.
//!
//! A children run stops when the next walk falls due ([`walk_due_in`]).

use crate::mirror::staleness::{LastWalk, Staleness};

/// Share of the budget the list walks take while children wait.
pub const WALK_SHARE: f64 = 0.5;

/// Which of a child stream's bundles a run fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Changed,
    Overdue,
    Active,
    Rotation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    Walk(&'static str),
    Children { stream: &'static str, class: Class },
}

/// Seconds until `last` falls due again (0: due now).
fn due_in(last: Option<LastWalk>, min_gap: f64) -> f64 {
    match last {
        None => 0.0,
        Some(w) => ((w.took / WALK_SHARE).max(min_gap) - w.age).max(0.0),
    }
}

/// Seconds until the first list walk falls due; `None` without lists.
pub fn walk_due_in(s: &Staleness, min_gap: f64) -> Option<f64> {
    s.lists.iter().map(|(_, last)| due_in(*last, min_gap)).min_by(f64::total_cmp)
}

/// What to refresh next; `None` with nothing configured.
pub fn pick(s: &Staleness, min_gap: f64) -> Option<Pick> {
    let oldest = s.oldest_walk().map(|(stream, _)| stream);
    // Among the lists due, the one whose last walk is oldest (never walked first):
    // a short list due is not held back by a long one walked longer ago but not due.
    let age = |last: &Option<LastWalk>| last.map_or(f64::INFINITY, |w| w.age);
    let oldest_due = s
        .lists
        .iter()
        .filter(|(_, last)| due_in(*last, min_gap) <= 0.0)
        .max_by(|a, b| age(&a.1).total_cmp(&age(&b.1)));
    if let Some((stream, _)) = oldest_due {
        return Some(Pick::Walk(stream));
    }
    let first = |has: &dyn Fn(&crate::mirror::child_refreshes::Standing) -> bool, class| {
        s.children.iter().find(|(_, st)| has(st)).map(|(stream, _)| Pick::Children { stream, class })
    };
    first(&|st| st.changed > 0, Class::Changed)
        .or_else(|| first(&|st| st.overdue > 0, Class::Overdue))
        .or_else(|| {
            let (stream, _) = s.children.iter().filter(|(_, st)| st.active > 0).max_by(|a, b| {
                let age = |x: Option<f64>| x.unwrap_or(f64::INFINITY);
                age(a.1.oldest_active_secs).total_cmp(&age(b.1.oldest_active_secs))
            })?;
            Some(Pick::Children { stream, class: Class::Active })
        })
        .or_else(|| first(&|st| st.rotation > 0, Class::Rotation))
        .or_else(|| oldest.map(Pick::Walk))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mirror::child_refreshes::Standing;

    const GAP: f64 = 15.0;

    fn walked(age: f64, took: f64) -> Option<LastWalk> {
        Some(LastWalk { age, took })
    }

    fn standing(changed: u64, active: u64, oldest: Option<f64>, rotation: u64, overdue: u64) -> Standing {
        Standing { changed, active, oldest_active_secs: oldest, rotation, overdue }
    }

    fn mirror(
        lists: Vec<(&'static str, Option<LastWalk>)>,
        children: Vec<(&'static str, Standing)>,
    ) -> Staleness {
        Staleness { lists, children }
    }

    fn kids(stream: &'static str, class: Class) -> Option<Pick> {
        Some(Pick::Children { stream, class })
    }

    #[test]
    fn the_list_whose_last_walk_is_oldest_goes_first_a_list_never_walked_before_all() {
        let active = vec![("bundle_videos", standing(5, 100, Some(9_000.0), 10, 0))];
        let s = mirror(
            vec![("bundles", walked(300.0, 50.0)), ("credit_transactions", walked(900.0, 2.0))],
            active.clone(),
        );
        assert_eq!(pick(&s, GAP), Some(Pick::Walk("credit_transactions")));
        let s = mirror(vec![("bundles", walked(300.0, 50.0)), ("credit_transactions", None)], active);
        assert_eq!(pick(&s, GAP), Some(Pick::Walk("credit_transactions")));
    }

    #[test]
    fn a_short_list_due_is_walked_while_a_longer_one_walked_longer_ago_is_not_due_yet() {
        let active = vec![("bundle_videos", standing(0, 100, Some(9_000.0), 0, 0))];
        let s = mirror(
            vec![("bundles", walked(100.0, 100.0)), ("credit_transactions", walked(50.0, 1.0))],
            active,
        );
        assert_eq!(pick(&s, GAP), Some(Pick::Walk("credit_transactions")));
    }

    #[test]
    fn a_walk_falls_due_once_its_last_walk_is_twice_its_length_old_and_at_least_the_gap() {
        let active = vec![("bundle_videos", standing(0, 100, Some(9_000.0), 0, 0))];
        let not_yet = mirror(vec![("bundles", walked(99.0, 50.0))], active.clone());
        assert_eq!(pick(&not_yet, GAP), kids("bundle_videos", Class::Active));
        assert_eq!(walk_due_in(&not_yet, GAP), Some(1.0));
        let due = mirror(vec![("bundles", walked(100.0, 50.0))], active.clone());
        assert_eq!(pick(&due, GAP), Some(Pick::Walk("bundles")));
        // A walk of one request is not repeated faster than the gap.
        let short = mirror(vec![("bundles", walked(10.0, 0.5))], active);
        assert_eq!(pick(&short, GAP), kids("bundle_videos", Class::Active));
        assert_eq!(walk_due_in(&short, GAP), Some(5.0));
    }

    #[test]
    fn changed_bundles_children_go_before_overdue_ones_before_non_terminal_ones_before_the_rotation() {
        let lists = vec![("bundles", walked(10.0, 50.0))];
        let s = mirror(
            lists.clone(),
            vec![
                ("bundle_videos", standing(0, 100, Some(500.0), 900, 3)),
                ("bundle_accounts", standing(7, 100, Some(800.0), 900, 0)),
            ],
        );
        assert_eq!(pick(&s, GAP), kids("bundle_accounts", Class::Changed));
        let s = mirror(
            lists.clone(),
            vec![
                ("bundle_videos", standing(0, 100, Some(500.0), 900, 3)),
                ("bundle_accounts", standing(0, 100, Some(800.0), 900, 0)),
            ],
        );
        assert_eq!(pick(&s, GAP), kids("bundle_videos", Class::Overdue));
        // Non-terminal children before terminal ones, the oldest stream first.
        let s = mirror(
            lists.clone(),
            vec![
                ("bundle_videos", standing(0, 100, Some(500.0), 900, 0)),
                ("bundle_accounts", standing(0, 100, Some(800.0), 900, 0)),
            ],
        );
        assert_eq!(pick(&s, GAP), kids("bundle_accounts", Class::Active));
        // The rotation only once no bundle is new, changed, overdue or non-terminal.
        let s = mirror(lists.clone(), vec![("bundle_videos", standing(0, 0, None, 900, 0))]);
        assert_eq!(pick(&s, GAP), kids("bundle_videos", Class::Rotation));
        // Nothing at all to fetch: the list again, though not due yet.
        let s = mirror(lists, vec![("bundle_videos", standing(0, 0, None, 0, 0))]);
        assert_eq!(pick(&s, GAP), Some(Pick::Walk("bundles")));
        assert_eq!(pick(&Staleness::default(), GAP), None);
    }
}
