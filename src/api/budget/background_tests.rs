//! Background work (the continuous mirror) under paused time: it spends what
//! the others leave, keeps a reserve of the bucket for them, and never makes
//! a job (another client of the key, sharing the store) or a webhook refresh
//! wait more than about one interval behind it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::tests::budget;
use super::*;
use crate::api::store::MemoryStore;

/// 2 requests/s, a bucket of 20 (19 planned), 6 tokens kept for the others.
const RATE: f64 = 2.0;
const BURST: u32 = 20;
const RESERVE: u32 = 6;
const INTERVAL: Duration = Duration::from_millis(500);
const BACKGROUND: Priority = Priority::Background { reserve: RESERVE };

/// `n` background loops (requests in flight) sending until aborted; counts sends.
fn background(b: &Arc<Budget>, n: usize, sent: &Arc<AtomicU32>) -> Vec<tokio::task::JoinHandle<()>> {
    (0..n)
        .map(|_| {
            let (b, sent) = (b.clone(), sent.clone());
            tokio::spawn(async move {
                loop {
                    b.acquire_as(BACKGROUND, "GET /bundles?page=1", b.max_wait()).await.unwrap();
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn background_work_alone_spends_the_bucket_down_to_its_reserve_then_the_whole_rate() {
    let store = Arc::new(MemoryStore::new());
    let b = Arc::new(budget(&store, RATE, BURST, 0.0, 900.0));
    let sent = Arc::new(AtomicU32::new(0));
    let tasks = background(&b, 4, &sent);
    tokio::time::sleep(Duration::from_millis(1)).await;
    // 19 planned, 6 kept: 13 at once (the 13th needs the bucket above 6).
    assert_eq!(sent.load(Ordering::Relaxed), 13);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let after_a_minute = sent.load(Ordering::Relaxed);
    tasks.iter().for_each(|t| t.abort());
    assert!(
        (13 + 119..=13 + 121).contains(&after_a_minute),
        "{after_a_minute} sends: the refill is all spent"
    );
}

#[tokio::test(start_paused = true)]
async fn a_job_of_another_client_waits_at_most_one_interval_behind_background_work() {
    let store = Arc::new(MemoryStore::new());
    let walk = Arc::new(budget(&store, RATE, BURST, 0.0, 900.0));
    // The replay's client: its own budget of the same key, through the same store.
    let jobs = budget(&store, RATE, BURST, 0.0, 900.0);
    let sent = Arc::new(AtomicU32::new(0));
    let tasks = background(&walk, 8, &sent);
    let start = Instant::now();
    let mut waits = Vec::new();
    for round in 1..=5u32 {
        tokio::time::sleep_until(start + Duration::from_millis(9_370) * round).await;
        // A burst of jobs as large as the reserve goes at once…
        for _ in 0..RESERVE {
            let asked = Instant::now();
            let permit = jobs.acquire("POST /bundles", jobs.max_wait()).await.unwrap();
            waits.push(permit.sent_at - asked);
        }
    }
    assert!(waits.iter().all(|w| *w <= INTERVAL), "each job waits one interval at most: {waits:?}");
    // …and jobs beyond the reserve share the refill in turn, never queued behind the walk.
    let asked = Instant::now();
    for _ in 0..4 {
        jobs.acquire("POST /bundles", jobs.max_wait()).await.unwrap();
    }
    assert!(Instant::now() - asked <= INTERVAL * 5, "{:?}", Instant::now() - asked);
    tasks.iter().for_each(|t| t.abort());
    // The background spent the rest: the bucket (19 planned) and its refill, less the jobs.
    let refill = ((Instant::now() - start).as_secs_f64() * RATE) as u32;
    let background = sent.load(Ordering::Relaxed);
    assert!(background + 34 + 2 >= 19 + refill, "background {background}, refill {refill}");
}

#[tokio::test(start_paused = true)]
async fn a_webhook_refresh_waits_at_most_one_interval_behind_background_work() {
    let store = Arc::new(MemoryStore::new());
    let b = Arc::new(budget(&store, RATE, BURST, 0.0, 900.0));
    let sent = Arc::new(AtomicU32::new(0));
    let tasks = background(&b, 8, &sent);
    let start = Instant::now();
    for round in 1..=6u32 {
        tokio::time::sleep_until(start + Duration::from_millis(7_130) * round).await;
        for _ in 0..2 {
            let asked = Instant::now();
            let permit = b
                .acquire_as(Priority::Refresh { walk_share: 0.5 }, "GET /bundles/b1", b.max_wait())
                .await
                .unwrap();
            assert!(permit.sent_at - asked <= INTERVAL, "round {round}: {:?}", permit.sent_at - asked);
        }
    }
    tasks.iter().for_each(|t| t.abort());
}

#[tokio::test(start_paused = true)]
async fn a_walk_of_the_normal_class_would_make_the_same_job_wait_behind_its_queue() {
    // What the bound above rules out: normal requests book ahead of a job.
    let store = Arc::new(MemoryStore::new());
    let walk = Arc::new(budget(&store, RATE, BURST, 0.0, 900.0));
    let jobs = budget(&store, RATE, BURST, 0.0, 900.0);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let walk = walk.clone();
            tokio::spawn(async move {
                loop {
                    walk.acquire("GET /bundles?page=1", walk.max_wait()).await.unwrap();
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let asked = Instant::now();
    let permit = jobs.acquire("POST /bundles", jobs.max_wait()).await.unwrap();
    tasks.iter().for_each(|t| t.abort());
    assert!(permit.sent_at - asked >= INTERVAL * 4, "{:?}", permit.sent_at - asked);
}
