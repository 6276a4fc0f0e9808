//! `worker demo`: the quick start's walk, end to end through the binary.

use crate::helpers::{text, worker};

#[test]
fn the_demo_walks_every_bundle_within_the_budget_even_while_the_account_changes() {
    let dir = tempfile::tempdir().unwrap();
    let out = worker(
        dir.path(),
        &["demo", "--bundles", "1500", "--rate", "20", "--burst", "200", "--drift-every", "3"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("(missing from the walk: 0)"), "{stdout}");
    assert!(stdout.contains("(0 answered 429 by the simulator)"), "{stdout}");
    let reread: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("pages read"))
        .and_then(|rest| rest.split('(').nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("a `pages read` line");
    assert!(reread > 0, "the drifting account made the walk read pages again: {stdout}");
}
