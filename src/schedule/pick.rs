//! Continuous mode's choice of what to refresh next, on the mirror's
//! [`Staleness`], most likely stale first:
//! 1. a list walk, when it is due: never walked, or its last walk started at
//!    least one [`period`] ago: the time the last walks of every configured
//!    list took together, divided by `sync.walk_share` (and at least
//!    `min_gap`). So while children wait, the walks together take about that
//!    share of the budget, however many lists there are; among the lists
//!    due, the one whose last walk is oldest;
//! 2. the children of new bundles (never fetched);
//! 3. terminal bundles' children older than `sync.children_full_refresh`
//!    (the longest any bundle's children go unrefreshed);
//! 4. the round: the children of non-terminal bundles (and of bundles that
//!    changed since their last fetch, such as one that became terminal), the
//!    stream whose round is furthest behind first (`Standing::round_oldest_secs`),
//!    oldest first within it
//!    ([`child_refreshes::round`]). A bundle whose row changed does not jump
//!    the round: its slots and account are no likelier stale than older
//!    ones, and only a round in age order refreshes every bundle within the
//!    time the budget left after the walks needs for all of them;
//! 5. last, the rotation: terminal bundles' children, oldest first;
//! 6. with nothing else to do, the list whose last walk is oldest.
//!
//! A children run stops when the next walk falls due ([`walk_due_in`]).
//!
//! [`child_refreshes::round`]: crate::mirror::child_refreshes::round

use crate::mirror::staleness::{LastWalk, Staleness};

/// Which of a child stream's bundles a run fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    New,
    Overdue,
    Round,
    Rotation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    Walk(&'static str),
    Children { stream: &'static str, class: Class },
}

/// Seconds between two walks of a list while children wait: the seconds
/// every list's last walk took, summed, over `share` (`sync.walk_share`),
/// and at least `min_gap`. Every list shares the one period, so a round of
/// walks takes `share` of the time whether the lists are one or several
/// (a list never walked to its end counts nothing yet: it is due at once).
pub fn period(s: &Staleness, min_gap: f64, share: f64) -> f64 {
    let round: f64 = s.lists.iter().filter_map(|(_, last)| last.map(|w| w.took)).sum();
    (round / share).max(min_gap)
}

/// Seconds until `last` falls due again (0: due now).
fn due_in(last: Option<LastWalk>, period: f64) -> f64 {
    last.map_or(0.0, |w| (period - w.age).max(0.0))
}

/// Seconds until the first list walk falls due; `None` without lists.
pub fn walk_due_in(s: &Staleness, min_gap: f64, share: f64) -> Option<f64> {
    let period = period(s, min_gap, share);
    s.lists.iter().map(|(_, last)| due_in(*last, period)).min_by(f64::total_cmp)
}

/// What to refresh next; `None` with nothing configured.
pub fn pick(s: &Staleness, min_gap: f64, share: f64) -> Option<Pick> {
    let oldest = s.oldest_walk().map(|(stream, _)| stream);
    let period = period(s, min_gap, share);
    // Among the lists due, the one whose last walk is oldest (never walked first).
    let age = |last: &Option<LastWalk>| last.map_or(f64::INFINITY, |w| w.age);
    let oldest_due = s
        .lists
        .iter()
        .filter(|(_, last)| due_in(*last, period) <= 0.0)
        .max_by(|a, b| age(&a.1).total_cmp(&age(&b.1)));
    if let Some((stream, _)) = oldest_due {
        return Some(Pick::Walk(stream));
    }
    let first = |has: &dyn Fn(&crate::mirror::child_refreshes::Standing) -> bool, class| {
        s.children.iter().find(|(_, st)| has(st)).map(|(stream, _)| Pick::Children { stream, class })
    };
    first(&|st| st.new > 0, Class::New)
        .or_else(|| first(&|st| st.overdue > 0, Class::Overdue))
        .or_else(|| {
            let (stream, _) = s.children.iter().filter(|(_, st)| st.round > 0).max_by(|a, b| {
                let age = |x: Option<f64>| x.unwrap_or(f64::INFINITY);
                age(a.1.round_oldest_secs).total_cmp(&age(b.1.round_oldest_secs))
            })?;
            Some(Pick::Children { stream, class: Class::Round })
        })
        .or_else(|| first(&|st| st.rotation > 0, Class::Rotation))
        .or_else(|| oldest.map(Pick::Walk))
}

#[cfg(test)]
#[path = "pick_tests.rs"]
mod tests;
