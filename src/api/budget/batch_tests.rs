//! Booking ahead, under paused time: one call to the store books a batch of
//! sends while the bucket holds plenty, one at a time once it is short; sends
//! held expire before the bucket could have refilled under them, and a 429
//! drops them.

use std::sync::Arc;
use std::time::Duration;

use super::tests::send_times;
use super::*;
use crate::api::store::{BudgetStore, MemoryStore};

/// A memory store that counts the bookings asked of it, and can be made to
/// never answer them.
#[derive(Default)]
pub(super) struct CountingStore {
    pub(super) inner: MemoryStore,
    calls: std::sync::atomic::AtomicU32,
    hang: std::sync::atomic::AtomicBool,
}

impl CountingStore {
    pub(super) fn calls(&self) -> u32 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl BudgetStore for CountingStore {
    fn reserve<'a>(
        &'a self,
        key: &'a str,
        rule: crate::api::gcra::Rule,
        limit: f64,
        count: u32,
        probe_every: f64,
    ) -> crate::api::store::BoxFuture<'a, anyhow::Result<crate::api::gcra::Reservation>> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.hang.load(std::sync::atomic::Ordering::Relaxed) {
            return Box::pin(std::future::pending());
        }
        self.inner.reserve(key, rule, limit, count, probe_every)
    }

    fn correct<'a>(
        &'a self,
        key: &'a str,
        correction: Correction,
    ) -> crate::api::store::BoxFuture<'a, anyhow::Result<()>> {
        self.inner.correct(key, correction)
    }

    fn lift<'a>(
        &'a self,
        key: &'a str,
        tat_at_least: f64,
    ) -> crate::api::store::BoxFuture<'a, anyhow::Result<()>> {
        self.inner.lift(key, tat_at_least)
    }
}

fn counted(rate: f64, burst: u32) -> (Arc<CountingStore>, Budget) {
    let store = Arc::new(CountingStore::default());
    let options = BudgetOptions {
        rate_per_second: rate,
        burst,
        reserved_share: 0.0,
        max_wait: Duration::from_secs(60),
    };
    (store.clone(), Budget::new(store, "fp".into(), options))
}

#[tokio::test(start_paused = true)]
async fn with_plenty_of_tokens_one_booking_covers_a_batch_of_sends() {
    let (store, b) = counted(10.0, 1000);
    assert_eq!(send_times(&b, 21).await, [0; 21]);
    // Batches of 1, 2, 4, 8 and 8: five bookings for 21 sends, 2 still held.
    assert_eq!(store.calls(), 5);
    assert_eq!(b.tokens_booked_ahead(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_batch_never_holds_more_than_a_sixteenth_of_the_bucket() {
    // Capacity 63: batches of at most 3.
    let (store, b) = counted(10.0, 64);
    send_times(&b, 12).await;
    // 1, 2, 3, 3, 3: five bookings.
    assert_eq!(store.calls(), 5);
    // A bucket under 32 books one request at a time.
    let (store, b) = counted(10.0, 31);
    send_times(&b, 12).await;
    assert_eq!(store.calls(), 12);
}

#[tokio::test(start_paused = true)]
async fn once_the_bucket_is_short_every_request_is_booked_alone_and_paced() {
    let (store, b) = counted(10.0, 160);
    // Capacity 159: the burst goes out at once, in batches.
    assert_eq!(send_times(&b, 159).await, [0; 159]);
    let burst_bookings = store.calls();
    assert!(burst_bookings < 30, "{burst_bookings} bookings for the burst");
    assert_eq!(b.tokens_booked_ahead(), 0);
    assert_eq!(send_times(&b, 3).await, [100, 200, 300]);
    assert_eq!(store.calls(), burst_bookings + 3);
}

#[tokio::test(start_paused = true)]
async fn sends_held_expire_unused_once_the_bucket_could_have_refilled_under_them() {
    let (store, b) = counted(10.0, 1000);
    send_times(&b, 2).await;
    // The second booking took two sends: one is held, the bucket booked 0.3 s ahead.
    assert_eq!((store.calls(), b.tokens_booked_ahead()), (2, 1));
    tokio::time::sleep(Duration::from_millis(150)).await;
    send_times(&b, 1).await;
    assert_eq!((store.calls(), b.tokens_booked_ahead()), (2, 0), "still safe: handed out");
    send_times(&b, 5).await;
    // Batches of 4 then 8: the bucket booked until 1.5 s, seven sends held.
    assert_eq!((store.calls(), b.tokens_booked_ahead()), (4, 7));
    // At 0.95 s it is booked 0.55 s ahead, less than the seven intervals held.
    tokio::time::sleep(Duration::from_millis(800)).await;
    send_times(&b, 1).await;
    assert_eq!((store.calls(), b.tokens_booked_ahead()), (5, 0), "expired, booked anew, one at a time");
}

#[tokio::test(start_paused = true)]
async fn a_request_dropped_while_its_batch_is_being_booked_leaves_batching_on() {
    let (store, b) = counted(10.0, 1000);
    send_times(&b, 1).await;
    // The next booking, a batch of 2, never returns and its request is dropped.
    store.hang.store(true, std::sync::atomic::Ordering::Relaxed);
    let dropped = tokio::time::timeout(Duration::from_secs(1), b.acquire("GET /x", b.max_wait())).await;
    assert!(dropped.is_err());
    store.hang.store(false, std::sync::atomic::Ordering::Relaxed);
    // Still batching: one booking for the next two sends.
    send_times(&b, 2).await;
    assert_eq!(store.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn when_another_client_spends_the_key_the_correction_keeps_the_sends_held_booked() {
    let (store, b) = counted(10.0, 1000);
    let mut permits = Vec::new();
    for _ in 0..4 {
        permits.push(b.acquire("GET /x", b.max_wait()).await.unwrap());
    }
    // Batches of 1, 2 and 4: seven sends booked at 0, three of them held.
    assert_eq!(b.tokens_booked_ahead(), 3);
    // The server has 899 left: someone else spent the key, the bucket is (at
    // least) 100 tokens short, 10 s, counting only the sends it has seen.
    let spent = RateLimitHeaders { remaining: Some(899.0), ..Default::default() };
    b.observe(&permits[3], &spent).await;
    // The store is booked past those 10 s by the three sends still held.
    let rule = crate::api::gcra::Rule::new(10.0, 999);
    let next = store.inner.reserve("fp", rule, 1000.0, 1, 30.0).await.unwrap();
    assert!((next.booked_ahead - 10.4).abs() < 1e-6, "{next:?}");
}

#[tokio::test(start_paused = true)]
async fn a_429_drops_the_sends_held_so_none_goes_out_through_the_block() {
    let (_, b) = counted(10.0, 1000);
    send_times(&b, 4).await;
    assert!(b.tokens_booked_ahead() > 0);
    b.block(Duration::from_secs(2)).await;
    assert_eq!(b.tokens_booked_ahead(), 0);
    assert_eq!(send_times(&b, 1).await, [2000]);
}
