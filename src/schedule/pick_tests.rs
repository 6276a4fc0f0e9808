//! The pick's order and the walks' share (`sync.walk_share`), on made-up
//! staleness: no database, no clock.

use super::*;
use crate::mirror::child_refreshes::Standing;

const GAP: f64 = 15.0;
const HALF: f64 = 0.5;

fn walked(age: f64, took: f64) -> Option<LastWalk> {
    Some(LastWalk { age, took })
}

fn standing(new: u64, round: u64, oldest: Option<f64>, rotation: u64, overdue: u64) -> Standing {
    Standing { new, round, oldest_active_secs: oldest, round_oldest_secs: oldest, rotation, overdue }
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

fn waiting() -> Vec<(&'static str, Standing)> {
    vec![("bundle_videos", standing(0, 100, Some(9_000.0), 0, 0))]
}

#[test]
fn the_list_whose_last_walk_is_oldest_goes_first_a_list_never_walked_before_all() {
    let active = vec![("bundle_videos", standing(5, 100, Some(9_000.0), 10, 0))];
    let s = mirror(
        vec![("bundles", walked(300.0, 50.0)), ("credit_transactions", walked(900.0, 2.0))],
        active.clone(),
    );
    assert_eq!(pick(&s, GAP, HALF), Some(Pick::Walk("credit_transactions")));
    let s = mirror(vec![("bundles", walked(300.0, 50.0)), ("credit_transactions", None)], active);
    assert_eq!(pick(&s, GAP, HALF), Some(Pick::Walk("credit_transactions")));
}

#[test]
fn every_list_falls_due_one_period_after_its_last_walk_the_walks_of_all_lists_summed_over_the_share() {
    // bundles 50 s, accounts 10 s: at half the budget each is walked every 120 s.
    let lists = |bundles: f64, accounts: f64| {
        mirror(vec![("bundles", walked(bundles, 50.0)), ("accounts", walked(accounts, 10.0))], waiting())
    };
    assert_eq!(period(&lists(0.0, 0.0), GAP, HALF), 120.0);
    // The short list is not walked again 20 s after its last walk (twice its own length):
    // that would give the two lists together more than half the budget.
    let s = lists(119.0, 60.0);
    assert_eq!(pick(&s, GAP, HALF), kids("bundle_videos", Class::Round));
    assert_eq!(walk_due_in(&s, GAP, HALF), Some(1.0));
    assert_eq!(pick(&lists(120.0, 60.0), GAP, HALF), Some(Pick::Walk("bundles")));
    assert_eq!(pick(&lists(50.0, 125.0), GAP, HALF), Some(Pick::Walk("accounts")));
}

#[test]
fn a_walk_falls_due_once_its_last_walk_is_its_length_over_the_share_old_and_at_least_the_gap() {
    let at = |age: f64| mirror(vec![("bundles", walked(age, 50.0))], waiting());
    assert_eq!(pick(&at(99.0), GAP, HALF), kids("bundle_videos", Class::Round));
    assert_eq!(walk_due_in(&at(99.0), GAP, HALF), Some(1.0));
    assert_eq!(pick(&at(100.0), GAP, HALF), Some(Pick::Walk("bundles")));
    // Nearly back to back: at 0.95, 50 s of walk leave 2.6 s to the children.
    let due = walk_due_in(&at(50.0), GAP, 0.95).unwrap();
    assert!((due - (50.0 / 0.95 - 50.0)).abs() < 1e-9, "{due}");
    assert_eq!(pick(&at(52.0), GAP, 0.95), kids("bundle_videos", Class::Round));
    assert_eq!(pick(&at(52.7), GAP, 0.95), Some(Pick::Walk("bundles")));
    // All of it: the next walk is due as soon as the last one ends.
    assert_eq!(pick(&at(50.0), GAP, 1.0), Some(Pick::Walk("bundles")));
    // A walk of one request is not repeated faster than the gap, whatever the share.
    let short = mirror(vec![("bundles", walked(10.0, 0.5))], waiting());
    assert_eq!(pick(&short, GAP, 1.0), kids("bundle_videos", Class::Round));
    assert_eq!(walk_due_in(&short, GAP, 1.0), Some(5.0));
}

/// Runs the pick on a virtual clock for `secs`: a walk takes its list's
/// `took` seconds, a children run lasts until the next walk is due. The
/// share of the time the walks took.
fn walking_share(took: &[(&'static str, f64)], share: f64, secs: f64) -> f64 {
    let mut last: Vec<(&'static str, f64, Option<f64>)> = took.iter().map(|(n, t)| (*n, *t, None)).collect();
    let (mut now, mut walking) = (0.0, 0.0);
    while now < secs {
        let lists = last.iter().map(|(n, t, at)| (*n, at.map(|at| LastWalk { age: now - at, took: *t })));
        let s = mirror(lists.collect(), waiting());
        match pick(&s, GAP, share) {
            Some(Pick::Walk(name)) => {
                let list = last.iter_mut().find(|l| l.0 == name).unwrap();
                list.2 = Some(now);
                now += list.1;
                walking += list.1;
            }
            // At least a millisecond: a due time rounded a hair above now would not move the clock.
            Some(Pick::Children { .. }) => now += walk_due_in(&s, GAP, share).unwrap().max(1e-3),
            None => unreachable!("lists are configured"),
        }
    }
    walking / now
}

#[test]
fn while_children_wait_the_walks_take_the_share_of_the_time_whether_the_lists_are_one_or_three() {
    for share in [0.5, 0.8, 0.95] {
        let one = walking_share(&[("bundles", 50.0)], share, 100_000.0);
        assert!((one - share).abs() < 0.01, "one list at {share}: {one}");
        let three =
            walking_share(&[("bundles", 50.0), ("accounts", 10.0), ("account_bans", 0.5)], share, 100_000.0);
        assert!((three - share).abs() < 0.01, "three lists at {share}: {three}");
    }
    assert!(walking_share(&[("bundles", 50.0), ("accounts", 10.0)], 1.0, 10_000.0) > 0.999);
}

#[test]
fn new_bundles_children_go_before_overdue_ones_before_the_round_before_the_rotation() {
    let lists = vec![("bundles", walked(10.0, 50.0))];
    let s = mirror(
        lists.clone(),
        vec![
            ("bundle_videos", standing(0, 100, Some(500.0), 900, 3)),
            ("bundle_accounts", standing(7, 100, Some(800.0), 900, 0)),
        ],
    );
    assert_eq!(pick(&s, GAP, HALF), kids("bundle_accounts", Class::New));
    let s = mirror(
        lists.clone(),
        vec![
            ("bundle_videos", standing(0, 100, Some(500.0), 900, 3)),
            ("bundle_accounts", standing(0, 100, Some(800.0), 900, 0)),
        ],
    );
    assert_eq!(pick(&s, GAP, HALF), kids("bundle_videos", Class::Overdue));
    // Non-terminal children before terminal ones, the oldest stream first.
    let s = mirror(
        lists.clone(),
        vec![
            ("bundle_videos", standing(0, 100, Some(500.0), 900, 0)),
            ("bundle_accounts", standing(0, 100, Some(800.0), 900, 0)),
        ],
    );
    assert_eq!(pick(&s, GAP, HALF), kids("bundle_accounts", Class::Round));
    // The rotation only once no bundle is new, overdue or in the round.
    let s = mirror(lists.clone(), vec![("bundle_videos", standing(0, 0, None, 900, 0))]);
    assert_eq!(pick(&s, GAP, HALF), kids("bundle_videos", Class::Rotation));
    // Nothing at all to fetch: the list again, though not due yet.
    let s = mirror(lists, vec![("bundle_videos", standing(0, 0, None, 0, 0))]);
    assert_eq!(pick(&s, GAP, HALF), Some(Pick::Walk("bundles")));
    assert_eq!(pick(&Staleness::default(), GAP, HALF), None);
}

#[test]
fn the_rounds_turn_goes_to_the_stream_furthest_behind_not_to_one_holding_older_children_outside_the_round() {
    let lists = vec![("bundles", walked(10.0, 50.0))];
    // The slots' round is at 500 s, the accounts' at 800 s; a bundle set aside
    // (waiting out its backoff, outside the round) has slots a day stale.
    let videos = Standing { oldest_active_secs: Some(86_400.0), ..standing(0, 100, Some(500.0), 900, 0) };
    let accounts = standing(0, 100, Some(800.0), 900, 0);
    let s = mirror(lists.clone(), vec![("bundle_videos", videos), ("bundle_accounts", accounts)]);
    assert_eq!(pick(&s, GAP, HALF), kids("bundle_accounts", Class::Round));
    // A round whose age is unknown goes first.
    let changed_only = Standing { round_oldest_secs: None, ..standing(0, 3, Some(50.0), 900, 0) };
    let s = mirror(lists, vec![("bundle_videos", changed_only), ("bundle_accounts", accounts)]);
    assert_eq!(pick(&s, GAP, HALF), kids("bundle_videos", Class::Round));
}
