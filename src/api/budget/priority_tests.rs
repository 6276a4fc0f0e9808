//! Refreshes ahead of the walk, within their share, under paused time: every
//! request books its own send in the store, and the sends come due in the
//! order booked; only who in this process gets each one changes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::batch_tests::CountingStore;
use super::*;
use crate::api::turns::REFRESH_BURST;

/// 2 requests/s (one every 500 ms), a bucket of 10 (9 planned): one booking
/// per request, as with the documented bucket once its burst is spent.
const RATE: f64 = 2.0;
const BURST: u32 = 10;
const INTERVAL: Duration = Duration::from_millis(500);

fn refresh(walk_share: f64) -> Priority {
    Priority::Refresh { walk_share }
}

fn budget() -> (Arc<CountingStore>, Arc<Budget>) {
    let store = Arc::new(CountingStore::default());
    let options = BudgetOptions {
        rate_per_second: RATE,
        burst: BURST,
        reserved_share: 0.0,
        max_wait: Duration::from_secs(900),
    };
    (store.clone(), Arc::new(Budget::new(store, "fp".into(), options)))
}

/// Every send, when and whether a refresh made it.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<(Instant, bool)>>>);

impl Log {
    fn push(&self, at: Instant, refresh: bool) {
        self.0.lock().unwrap().push((at, refresh));
    }

    fn sends(&self) -> Vec<(Instant, bool)> {
        let mut sends = self.0.lock().unwrap().clone();
        sends.sort_by_key(|(at, _)| *at);
        sends
    }
}

/// Sends `priority` requests one after the other (a walk, or a refresher)
/// until `end`, each as soon as it is let through (no round trip).
fn requests(b: &Arc<Budget>, log: &Log, priority: Priority, end: Instant) -> tokio::task::JoinHandle<()> {
    let (b, log) = (b.clone(), log.clone());
    tokio::spawn(async move {
        while Instant::now() < end {
            let permit = b.acquire_as(priority, "GET /x", b.max_wait()).await.unwrap();
            log.push(permit.sent_at, priority != Priority::Normal);
        }
    })
}

/// The send times conform to the bucket (GCRA, full at `start`): the key
/// never sends faster than its rate, beyond its burst.
fn assert_within_the_bucket(start: Instant, sends: &[(Instant, bool)]) {
    let tolerance = INTERVAL * (BURST - 1);
    let mut tat = start;
    for (i, (at, _)) in sends.iter().enumerate() {
        assert!(*at + tolerance + Duration::from_micros(1) >= tat, "send #{i} came too early");
        tat = tat.max(*at) + INTERVAL;
    }
}

#[tokio::test(start_paused = true)]
async fn a_refresh_goes_out_within_one_interval_while_a_walk_has_many_requests_waiting() {
    let (_, b) = budget();
    let (start, log) = (Instant::now(), Log::default());
    let end = start + Duration::from_secs(60);
    // Forty walk requests always waiting: a queue of twenty seconds.
    let walk: Vec<_> = (0..40).map(|_| requests(&b, &log, Priority::Normal, end)).collect();
    let mut waits = Vec::new();
    for event in 1..=6u32 {
        tokio::time::sleep_until(start + Duration::from_millis(7_130) * event).await;
        // One webhook event: the bundle, then its videos.
        for _ in 0..2 {
            let arrived = Instant::now();
            let permit = b.acquire_as(refresh(0.5), "GET /bundles/b1", b.max_wait()).await.unwrap();
            log.push(permit.sent_at, true);
            waits.push(permit.sent_at - arrived);
        }
    }
    assert!(waits.iter().all(|w| *w <= INTERVAL), "each refresh waits one interval at most: {waits:?}");
    // A request of the walk's class arriving now waits behind the walk's queue.
    let arrived = Instant::now();
    let behind = b.acquire("GET /bundles?page=9", b.max_wait()).await.unwrap();
    assert!(behind.sent_at - arrived > Duration::from_secs(15), "{:?}", behind.sent_at - arrived);
    walk.iter().for_each(|w| w.abort());
    assert_within_the_bucket(start, &log.sends());
}

#[tokio::test(start_paused = true)]
async fn with_refreshes_arriving_continuously_the_walk_keeps_its_share() {
    for walk_share in [0.5, 0.8] {
        let (_, b) = budget();
        let (start, log) = (Instant::now(), Log::default());
        let end = start + Duration::from_secs(120);
        // The walk sends one page at a time; three refreshers never stop.
        let mut tasks = vec![requests(&b, &log, Priority::Normal, end)];
        tasks.extend((0..3).map(|_| requests(&b, &log, refresh(walk_share), end)));
        tokio::time::sleep_until(end).await;
        tasks.iter().for_each(|t| t.abort());
        let sends: Vec<_> = log.sends().into_iter().filter(|(at, _)| *at < end).collect();
        let total = sends.len() as f64;
        let walk = sends.iter().filter(|(_, refresh)| !refresh).count() as f64;
        // 9 at once, then 2 a second.
        assert!((248.0..=250.0).contains(&total), "{total} sends");
        assert!(
            walk >= walk_share * total - REFRESH_BURST - 1.0,
            "share {walk_share}: walk {walk} of {total}"
        );
        assert!(
            total - walk >= (1.0 - walk_share) * total - REFRESH_BURST - 1.0,
            "share {walk_share}: the refreshes got {} of {total}",
            total - walk
        );
        assert_within_the_bucket(start, &sends);
    }
}

#[tokio::test(start_paused = true)]
async fn with_no_walk_waiting_refreshes_use_the_full_rate() {
    let (_, b) = budget();
    let (start, log) = (Instant::now(), Log::default());
    let end = start + Duration::from_secs(30);
    let tasks: Vec<_> = (0..2).map(|_| requests(&b, &log, refresh(0.5), end)).collect();
    tokio::time::sleep_until(end).await;
    tasks.iter().for_each(|t| t.abort());
    let sends: Vec<_> = log.sends().into_iter().filter(|(at, _)| *at < end).collect();
    // The planned burst (9) at once, then one every interval: 9 + 59.
    assert_eq!(sends.len(), 68);
    for pair in sends[9..].windows(2) {
        assert_eq!(pair[1].0 - pair[0].0, INTERVAL);
    }
}

#[tokio::test(start_paused = true)]
async fn going_ahead_books_nothing_more_in_the_store_and_every_booking_is_sent() {
    let (store, b) = budget();
    let (start, log) = (Instant::now(), Log::default());
    // Spend the planned burst: 9 bookings.
    for _ in 0..9 {
        b.acquire("GET /x", b.max_wait()).await.unwrap();
    }
    // Ten walk requests waiting, one send each.
    let walk: Vec<_> = (0..10)
        .map(|_| {
            let (b, log) = (b.clone(), log.clone());
            tokio::spawn(async move {
                let permit = b.acquire("GET /x", b.max_wait()).await.unwrap();
                log.push(permit.sent_at, false);
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let refresh_sent = b.acquire_as(refresh(0.5), "GET /y", b.max_wait()).await.unwrap().sent_at;
    log.push(refresh_sent, true);
    for w in walk {
        w.await.unwrap();
    }
    assert_eq!(refresh_sent - start, Duration::from_millis(1500), "the next send after it arrived");
    assert_eq!(store.calls(), 9 + 11, "one booking per request");
    let sends = log.sends();
    assert_eq!(sends.len(), 11);
    for (i, (at, _)) in sends.iter().enumerate() {
        assert_eq!(*at - start, INTERVAL * (i as u32 + 1), "send #{i}: one every interval");
    }
}

#[tokio::test(start_paused = true)]
async fn a_refresh_dropped_while_waiting_leaves_its_send_to_the_next_request() {
    let (store, b) = budget();
    let start = Instant::now();
    for _ in 0..9 {
        b.acquire("GET /x", b.max_wait()).await.unwrap();
    }
    let walk = {
        let b = b.clone();
        tokio::spawn(async move { b.acquire("GET /x", b.max_wait()).await.unwrap().sent_at })
    };
    tokio::task::yield_now().await;
    let dropped =
        tokio::time::timeout(Duration::from_millis(100), b.acquire_as(refresh(0.5), "GET /y", b.max_wait()))
            .await;
    assert!(dropped.is_err());
    assert_eq!(store.calls(), 11, "the walk request and the refresh booked one send each");
    // The next request takes the dropped refresh's send instead of booking one more.
    let next = b.acquire("GET /x", b.max_wait()).await.unwrap();
    assert_eq!(store.calls(), 11);
    assert_eq!((walk.await.unwrap() - start, next.sent_at - start), (INTERVAL, INTERVAL * 2));
    // Dropped with nobody else waiting, the send is held for the next request.
    let dropped =
        tokio::time::timeout(Duration::from_millis(100), b.acquire_as(refresh(0.5), "GET /y", b.max_wait()))
            .await;
    assert!(dropped.is_err());
    tokio::time::sleep(INTERVAL).await;
    let next = b.acquire("GET /x", b.max_wait()).await.unwrap();
    assert_eq!((store.calls(), next.sent_at - start), (12, Duration::from_millis(1600)));
}

/// The documented bucket, 120 (119 planned), at [`RATE`].
fn documented_bucket() -> Budget {
    let options = BudgetOptions {
        rate_per_second: RATE,
        burst: 120,
        reserved_share: 0.0,
        max_wait: Duration::from_secs(900),
    };
    Budget::new(Arc::new(CountingStore::default()), "fp".into(), options)
}

/// A walk of 300 pages reading ahead with the documented bucket (120 at 2/s,
/// 119 planned): each page leaves the share of the walk still to come after
/// it, so the burst is spent over the walk, and the last page goes when it
/// would from a burst spent at once, (300 - 119) / 2 s after the start. At
/// any point a retry goes at once, out of what the bucket holds.
#[tokio::test(start_paused = true)]
async fn pages_read_ahead_spend_the_burst_over_the_walk_and_end_as_early_while_a_retry_goes_at_once() {
    let b = documented_bucket();
    let start = Instant::now();
    let ms = |at: Instant| (at - start).as_millis();
    let mut sends = Vec::new();
    for page in 1..=300u32 {
        if page == 150 {
            let retry = b.acquire_as(Priority::Retry, "GET /page", b.max_wait()).await.unwrap();
            assert_eq!(retry.sent_at, Instant::now(), "the retry waits for nothing");
        }
        let share = f64::from(300 - page) / 300.0;
        let permit = b.acquire_as(Priority::ReadAhead { share }, "GET /page", b.max_wait()).await.unwrap();
        sends.push(ms(permit.sent_at));
    }
    // 301 sends with the retry: the 119 of the burst, then one per 500 ms.
    assert_eq!(sends[299], (301 - 119) * 500, "the last page as early as from a burst spent at once");
    assert!(sends[10] > 0 && sends[118] > 10_000, "the burst is not spent at once: {:?}", &sends[..20]);
}

/// A walk beginning on an empty bucket (another walk just spent it) has no
/// burst to spread: it spreads what the bucket holds, nothing, and its pages
/// go one a refill from the start instead of waiting for the bucket to fill.
#[tokio::test(start_paused = true)]
async fn a_walk_beginning_on_an_empty_bucket_keeps_nothing_back() {
    let b = documented_bucket();
    assert_eq!(b.share_held(), 1.0, "a fresh bucket is full");
    for _ in 0..119 {
        b.acquire("GET /other", b.max_wait()).await.unwrap();
    }
    let held = b.share_held();
    assert!(held < 0.01, "the burst is spent: {held}");
    let start = Instant::now();
    let mut sends = Vec::new();
    for page in 2..=4u32 {
        let share = held * f64::from(4 - page) / 4.0;
        let permit = b.acquire_as(Priority::ReadAhead { share }, "GET /page", b.max_wait()).await.unwrap();
        sends.push((permit.sent_at - start).as_millis());
    }
    assert_eq!(sends, [500, 1000, 1500], "one page a refill, as without spreading");
}
