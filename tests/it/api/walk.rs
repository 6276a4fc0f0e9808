//! The page walker against the simulator while its listing changes: every
//! bundle that existed for the whole walk is delivered, none twice.

use std::collections::{HashMap, HashSet};

use axum::routing::get;
use tokportal_sync::api::cursor::{Absorbed, Known};
use tokportal_sync::api::{ApiError, Walk, WalkStats};
use tokportal_sync::sim::{self, DriftKind, ListOrder, SimConfig, SimServer};

use super::support::{budget_options, client, demo_client, scripted};

async fn unlimited(bundles: usize) -> SimServer {
    sim::start(SimConfig { bundles, rate_limit: false, ..SimConfig::default() }).await.unwrap()
}

/// Walks `/bundles`, calling `between(page_number)` after each page read for
/// the first time; returns the delivered ids in order and the walk's stats.
async fn walk_with_stats(
    sim: &SimServer,
    per_page: u32,
    mut between: impl FnMut(u32),
) -> (Vec<String>, WalkStats) {
    let mut walk = Walk::new(demo_client(sim, 1000.0, 1000), "/bundles", vec![], per_page).unwrap();
    let mut delivered = Vec::new();
    while let Some(page) = walk.next_page().await.unwrap() {
        delivered.extend(page.items.iter().map(|item| item["id"].as_str().unwrap().to_string()));
        if !page.reread {
            between(page.number);
        }
    }
    (delivered, walk.stats())
}

async fn walk(sim: &SimServer, per_page: u32, between: impl FnMut(u32)) -> Vec<String> {
    walk_with_stats(sim, per_page, between).await.0
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
async fn a_walk_under_the_simulators_drift_delivers_every_bundle_that_existed_throughout_in_any_stable_order()
{
    // Newest first, new bundles land at the head; by id, anywhere in the list.
    for order in [ListOrder::NewestFirst, ListOrder::Id] {
        for kind in [DriftKind::Insert, DriftKind::Delete, DriftKind::Mixed] {
            let sim = unlimited(400).await;
            sim.update_faults(|f| {
                f.drift_every = 3;
                f.drift_kind = kind;
                f.order = order;
            })
            .unwrap();
            let at_start = sim.bundle_ids();
            let delivered = walk(&sim, 25, |_| {}).await;
            assert!(sim.stats().faults_fired.drifted > 0, "{order:?} {kind:?}: no drift happened");
            assert_every_survivor_once(&delivered, &at_start, &sim.bundle_ids());
            sim.shutdown().await;
        }
    }
}

#[tokio::test]
async fn bundles_created_at_the_head_during_a_walk_cost_no_page_read_again() {
    let sim = unlimited(500).await;
    let at_start = sim.bundle_ids();
    let (delivered, stats) = walk_with_stats(&sim, 50, |_| drop(sim.insert_bundles(7))).await;
    assert_every_survivor_once(&delivered, &at_start, &sim.bundle_ids());
    assert_eq!(stats.rereads, 0, "{stats:?}");
    assert!(stats.duplicates > 0, "the inserts pushed bundles onto the next page: {stats:?}");
    sim.shutdown().await;
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

/// A seen set kept apart from the walk, the way the mirror keeps one in Postgres.
#[derive(Default)]
struct OwnSeen(HashMap<String, bool>);

impl OwnSeen {
    fn lookup(&self, ids: &[String]) -> Known {
        ids.iter().filter_map(|id| self.0.get(id).map(|&anchor| (id.clone(), anchor))).collect()
    }

    fn record(&mut self, absorbed: &Absorbed) {
        self.0.extend(absorbed.new_ids.iter().cloned());
        for id in &absorbed.anchors {
            self.0.insert(id.clone(), true);
        }
    }
}

#[tokio::test]
async fn a_caller_keeping_its_own_seen_set_drives_fetch_and_absorb_to_every_bundle_once() {
    let sim = unlimited(400).await;
    sim.update_faults(|f| {
        f.drift_every = 3;
        f.drift_kind = DriftKind::Mixed;
    })
    .unwrap();
    let at_start = sim.bundle_ids();
    let mut walk = Walk::new(demo_client(&sim, 1000.0, 1000), "/bundles", vec![], 25).unwrap();
    let (mut seen, mut delivered) = (OwnSeen::default(), Vec::new());
    while let Some(read) = walk.next_read() {
        let list = walk.fetch(read).await.unwrap();
        let known = seen.lookup(&list.ids());
        let absorbed = walk.cursor_mut().absorb(read, list, &known);
        seen.record(&absorbed);
        delivered.extend(absorbed.page.items.iter().map(|item| item["id"].as_str().unwrap().to_string()));
    }
    assert!(sim.stats().faults_fired.drifted > 0, "no drift happened");
    assert_eq!(seen.0.len(), delivered.len(), "the seen set holds each delivered id");
    assert_every_survivor_once(&delivered, &at_start, &sim.bundle_ids());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_body_that_is_not_a_page_of_a_list_is_fatal_naming_the_page_with_an_excerpt() {
    let app = axum::Router::new().route(
        "/bundles",
        get(|| async { axum::Json(serde_json::json!({ "items": ["not", "a", "page"] })) }),
    );
    let (options, server) = scripted(app).await;
    let walk = Walk::new(client(options, budget_options(100.0, 100)), "/bundles", vec![], 10).unwrap();
    let read = walk.next_read().unwrap();
    let err = walk.fetch(read).await.unwrap_err();
    let ApiError::Fatal { request, excerpt, .. } = &err else { panic!("not fatal: {err:?}") };
    assert!(request.ends_with("page 1"), "{request}");
    assert!(excerpt.contains(r#"{"items":["not","a","page"]}"#), "{excerpt}");
    server.abort();
}

#[tokio::test]
async fn a_server_that_answers_another_page_than_the_one_asked_for_is_fatal() {
    // Page 1 whatever `page` says, as a server ignoring the parameter would.
    let app = axum::Router::new().route(
        "/bundles",
        get(|| async {
            let data: Vec<_> = (0..10).map(|id| serde_json::json!({ "id": id })).collect();
            let pagination = serde_json::json!({ "page": 1, "per_page": 10, "total": 50, "total_pages": 5 });
            axum::Json(serde_json::json!({ "data": data, "pagination": pagination }))
        }),
    );
    let (options, server) = scripted(app).await;
    let mut walk = Walk::new(client(options, budget_options(100.0, 100)), "/bundles", vec![], 10).unwrap();
    let first = walk.next_page().await.unwrap().unwrap();
    assert_eq!(first.items.len(), 10);
    let err = walk.next_page().await.unwrap_err();
    let ApiError::Fatal { request, excerpt, .. } = &err else { panic!("not fatal: {err:?}") };
    assert!(request.ends_with("page 2") && excerpt.contains("answered page 1"), "{err}");
    server.abort();
}

#[tokio::test]
async fn a_walk_with_pages_in_flight_under_jitter_and_drift_delivers_every_bundle_that_existed_throughout() {
    // Answers 0-40 ms late at random: pages in flight together come back in any order.
    let sim = unlimited(400).await;
    sim.update_faults(|f| {
        f.latency_jitter_ms = 40;
        f.drift_every = 5;
        f.drift_kind = DriftKind::Mixed;
    })
    .unwrap();
    let at_start = sim.bundle_ids();
    let mut walk = Walk::new(demo_client(&sim, 1000.0, 1000), "/bundles", vec![], 20)
        .unwrap()
        .with_pages_in_flight(32 << 20);
    let mut delivered = Vec::new();
    while let Some(page) = walk.next_page().await.unwrap() {
        delivered.extend(page.items.iter().map(|item| item["id"].as_str().unwrap().to_string()));
    }
    assert!(sim.stats().faults_fired.drifted > 0, "the list changed during the walk");
    assert_every_survivor_once(&delivered, &at_start, &sim.bundle_ids());
    sim.shutdown().await;
}
