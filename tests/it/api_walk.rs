//! The page walker against the simulator while its listing changes: every
//! bundle that existed for the whole walk is delivered, none twice.

use std::collections::HashSet;

use tokportal_sync::api::Walk;
use tokportal_sync::sim::{self, DriftKind, SimConfig, SimServer};

use crate::api_support::demo_client;

async fn unlimited(bundles: usize) -> SimServer {
    sim::start(SimConfig { bundles, rate_limit: false, ..SimConfig::default() }).await.unwrap()
}

/// Walks `/bundles`, calling `between(page_number)` after each page read for
/// the first time; returns the delivered ids in order.
async fn walk(sim: &SimServer, per_page: u32, mut between: impl FnMut(u32)) -> Vec<String> {
    let mut walk = Walk::new(demo_client(sim, 1000.0, 1000), "/bundles", vec![], per_page).unwrap();
    let mut delivered = Vec::new();
    while let Some(page) = walk.next_page().await.unwrap() {
        delivered.extend(page.items.iter().map(|item| item["id"].as_str().unwrap().to_string()));
        if !page.reread {
            between(page.number);
        }
    }
    delivered
}

fn assert_every_survivor_once(delivered: &[String], at_start: &[String], at_end: &[String]) {
    let unique: HashSet<&String> = delivered.iter().collect();
    assert_eq!(unique.len(), delivered.len(), "a bundle was delivered twice");
    let end: HashSet<&String> = at_end.iter().collect();
    let missed: Vec<_> = at_start.iter().filter(|id| end.contains(id) && !unique.contains(id)).collect();
    assert!(missed.is_empty(), "missed {} bundles that existed throughout: {missed:?}", missed.len());
}

#[tokio::test]
async fn a_walk_that_sees_inserts_and_deletes_midway_delivers_every_bundle_that_existed_throughout() {
    let sim = unlimited(500).await;
    let at_start = sim.bundle_ids();
    let delivered = walk(&sim, 50, |page| match page {
        // New bundles at the head push everything one page further...
        3 => drop(sim.insert_bundles(30)),
        // ...deleting bundles already read pulls unread ones back onto read pages...
        5 => drop(sim.delete_bundles(&sim.bundle_ids()[10..90])),
        // ...and both at once, in different amounts.
        7 => {
            sim.insert_bundles(12);
            sim.delete_bundles(&sim.bundle_ids()[100..140]);
        }
        _ => {}
    })
    .await;
    assert_every_survivor_once(&delivered, &at_start, &sim.bundle_ids());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_walk_under_the_simulators_drift_delivers_every_bundle_that_existed_throughout() {
    for kind in [DriftKind::Insert, DriftKind::Delete, DriftKind::Mixed] {
        let sim = unlimited(400).await;
        sim.update_faults(|f| {
            f.drift_every = 3;
            f.drift_kind = kind;
        })
        .unwrap();
        let at_start = sim.bundle_ids();
        let delivered = walk(&sim, 25, |_| {}).await;
        assert!(sim.stats().faults_fired.drifted > 0, "{kind:?}: no drift happened");
        assert_every_survivor_once(&delivered, &at_start, &sim.bundle_ids());
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn a_walk_started_at_a_later_page_reads_from_there_to_the_end() {
    let sim = unlimited(250).await;
    let all = sim.bundle_ids();
    let mut walk =
        Walk::new(demo_client(&sim, 1000.0, 1000), "/bundles", vec![], 100).unwrap().starting_at(2);
    let (mut pages, mut delivered) = (Vec::new(), Vec::new());
    while let Some(page) = walk.next_page().await.unwrap() {
        pages.push(page.number);
        delivered.extend(page.items.iter().map(|item| item["id"].as_str().unwrap().to_string()));
    }
    assert_eq!(pages, vec![2, 3]);
    assert_eq!(delivered, all[100..].to_vec(), "pages 2 and 3 of the newest-first list");
    sim.shutdown().await;
}
