//! The pacer under paused tokio time: sleeps complete instantly and the
//! clock reads exactly what the budget asked for.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::api::store::{BudgetStore, MemoryStore};

fn budget(store: &Arc<MemoryStore>, rate: f64, burst: u32, share: f64, max_wait: f64) -> Budget {
    let options = BudgetOptions {
        rate_per_second: rate,
        burst,
        reserved_share: share,
        max_wait: Duration::from_secs_f64(max_wait),
    };
    Budget::new(store.clone(), "fp".into(), options)
}

/// Send times of `n` requests, in milliseconds from the start.
async fn send_times(budget: &Budget, n: usize) -> Vec<u128> {
    let start = Instant::now();
    let mut times = Vec::new();
    for _ in 0..n {
        let permit = budget.acquire("GET /x", budget.max_wait()).await.unwrap();
        times.push((permit.sent_at - start).as_millis());
    }
    times
}

#[tokio::test(start_paused = true)]
async fn the_burst_goes_out_at_once_then_requests_are_paced_at_the_rate() {
    let store = Arc::new(MemoryStore::new());
    let b = budget(&store, 10.0, 5, 0.0, 60.0);
    // One token of the burst stays unplanned as a margin for network jitter.
    assert_eq!(send_times(&b, 7).await, [0, 0, 0, 0, 100, 200, 300]);
}

#[tokio::test(start_paused = true)]
async fn an_idle_budget_refills_at_the_rate() {
    let store = Arc::new(MemoryStore::new());
    let b = budget(&store, 10.0, 5, 0.0, 60.0);
    send_times(&b, 4).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(send_times(&b, 4).await, [0, 0, 50, 150]);
}

#[tokio::test(start_paused = true)]
async fn the_reserved_share_lowers_both_burst_and_rate() {
    let store = Arc::new(MemoryStore::new());
    let b = budget(&store, 10.0, 10, 0.5, 60.0);
    assert_eq!(send_times(&b, 6).await, [0, 0, 0, 0, 200, 400]);
}

#[tokio::test(start_paused = true)]
async fn two_pacers_on_one_store_share_the_key() {
    let store = Arc::new(MemoryStore::new());
    let (a, b) = (budget(&store, 10.0, 3, 0.0, 60.0), budget(&store, 10.0, 3, 0.0, 60.0));
    let (ta, tb) = tokio::join!(send_times(&a, 3), send_times(&b, 3));
    let mut all: Vec<u128> = ta.into_iter().chain(tb).collect();
    all.sort();
    assert_eq!(all, [0, 0, 100, 200, 300, 400]);
}

#[tokio::test(start_paused = true)]
async fn a_request_that_would_wait_longer_than_max_wait_fails_and_books_nothing() {
    let store = Arc::new(MemoryStore::new());
    let b = budget(&store, 1.0, 2, 0.0, 0.5);
    b.acquire("GET /x", b.max_wait()).await.unwrap();
    let err = b.acquire("GET /x", b.max_wait()).await.unwrap_err();
    match err {
        ApiError::RateLimited { wait, max_wait, .. } => {
            assert_eq!((wait, max_wait), (Duration::from_secs(1), Duration::from_millis(500)));
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert!(err_text(&b).await.contains("more than the allowed"));
    // Nothing was booked by the refusals: one second later the next request goes at once.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(send_times(&b, 1).await, [0]);
}

async fn err_text(b: &Budget) -> String {
    b.acquire("GET /x", b.max_wait()).await.unwrap_err().to_string()
}

#[tokio::test(start_paused = true)]
async fn a_429_block_pauses_every_pacer_of_the_key() {
    let store = Arc::new(MemoryStore::new());
    let (a, b) = (budget(&store, 10.0, 20, 0.0, 60.0), budget(&store, 10.0, 20, 0.0, 60.0));
    a.block(Duration::from_secs(2)).await;
    assert_eq!(send_times(&b, 1).await, [2000]);
}

#[tokio::test(start_paused = true)]
async fn the_budget_slows_down_when_the_server_has_fewer_tokens_than_booked() {
    let store = Arc::new(MemoryStore::new());
    let b = budget(&store, 10.0, 10, 0.0, 60.0);
    let permit = b.acquire("GET /x", b.max_wait()).await.unwrap();
    // Another client drained the key: the server has no token left.
    let drained = RateLimitHeaders { remaining: Some(0.0), ..Default::default() };
    b.observe(&permit, &drained).await;
    // Booked 9 intervals ahead; 8 are tolerated, so the next waits one interval.
    assert_eq!(send_times(&b, 2).await, [100, 200]);
}

#[tokio::test(start_paused = true)]
async fn headers_that_agree_with_the_booking_change_nothing() {
    let store = Arc::new(MemoryStore::new());
    let b = budget(&store, 10.0, 10, 0.0, 60.0);
    let permit = b.acquire("GET /x", b.max_wait()).await.unwrap();
    let fine = RateLimitHeaders { remaining: Some(9.0), ..Default::default() };
    b.observe(&permit, &fine).await;
    assert_eq!(send_times(&b, 9).await, [0, 0, 0, 0, 0, 0, 0, 0, 100]);
}

#[tokio::test(start_paused = true)]
async fn consecutive_429s_block_the_key_longer_each_time() {
    let store = Arc::new(MemoryStore::new());
    let b = budget(&store, 2.0, 120, 0.0, 600.0);
    let mut streak = b.streak();
    let mut last = Instant::now();
    for n in 0..5u32 {
        // The server asks for one second each time; the extra doubles from one interval (0.5 s).
        let wait = streak.next_wait(Duration::from_secs(1));
        b.block(wait).await;
        let sent = b.acquire("GET /x", b.max_wait()).await.unwrap().sent_at;
        let extra = Duration::from_millis(500) * 2u32.pow(n);
        let gap = sent - last;
        assert!(
            gap >= Duration::from_secs(1) + extra && gap < Duration::from_secs(1) + extra * 2,
            "429 #{n}: {gap:?}"
        );
        last = sent;
    }
}

#[test]
fn the_server_wait_is_the_larger_of_retry_after_and_retry_after_seconds() {
    use crate::api::headers::server_wait;
    let body = |secs: u64| {
        format!(r#"{{"error":{{"code":"RATE_LIMIT_EXCEEDED","details":{{"retry_after_seconds":{secs}}}}}}}"#)
    };
    let header =
        |secs: u64| RateLimitHeaders { retry_after: Some(Duration::from_secs(secs)), ..Default::default() };
    assert_eq!(server_wait(&header(1), body(2).as_bytes()), Duration::from_secs(2));
    assert_eq!(server_wait(&header(3), body(2).as_bytes()), Duration::from_secs(3));
    assert_eq!(server_wait(&RateLimitHeaders::default(), body(4).as_bytes()), Duration::from_secs(4));
    assert_eq!(server_wait(&header(5), b"not json"), Duration::from_secs(5));
    assert_eq!(server_wait(&RateLimitHeaders::default(), b""), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn a_reset_far_in_the_future_slows_the_budget_by_at_most_a_full_bucket() {
    let store = Arc::new(MemoryStore::new());
    let b = budget(&store, 10.0, 10, 0.0, 60.0);
    let permit = b.acquire("GET /x", b.max_wait()).await.unwrap();
    // A reset sent in milliseconds instead of seconds: ~1e12 s away.
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    let reset_in_ms = RateLimitHeaders { reset: Some(now_ms as f64), ..Default::default() };
    b.observe(&permit, &reset_in_ms).await;
    // At worst the server's bucket is empty: booked one full bucket (1 s) ahead, 0.8 s tolerated.
    assert_eq!(send_times(&b, 2).await, [200, 300]);
}

#[tokio::test(start_paused = true)]
async fn an_absurd_429_wait_blocks_the_key_no_longer_than_max_wait() {
    let store = Arc::new(MemoryStore::new());
    // Probes every 120 s: none falls inside the block, which is waited out.
    let unprobed = |b: Budget| b.with_probe_interval(Duration::from_secs(120));
    let (a, b) =
        (unprobed(budget(&store, 10.0, 20, 0.0, 60.0)), unprobed(budget(&store, 10.0, 20, 0.0, 60.0)));
    // `Retry-After: 1e300` parses to Duration::MAX.
    a.block(Duration::MAX).await;
    assert_eq!(send_times(&b, 1).await, [60_000]);
}

#[tokio::test(start_paused = true)]
async fn a_server_clock_ahead_of_ours_does_not_slow_the_budget_when_remaining_is_sent() {
    let store = Arc::new(MemoryStore::new());
    let b = budget(&store, 10.0, 10, 0.0, 60.0);
    let permit = b.acquire("GET /x", b.max_wait()).await.unwrap();
    // The server's clock runs 70 s ahead: its Reset looks far away, its Remaining is what we booked.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let skewed = RateLimitHeaders { remaining: Some(9.0), reset: Some(now + 70.0), ..Default::default() };
    b.observe(&permit, &skewed).await;
    assert_eq!(send_times(&b, 9).await, [0, 0, 0, 0, 0, 0, 0, 0, 100]);
}

#[tokio::test(start_paused = true)]
async fn with_a_reserved_share_others_spending_the_reserve_does_not_slow_the_budget() {
    let store = Arc::new(MemoryStore::new());
    // Burst 10, half reserved: 5 usable tokens (4 planned), one per 200 ms.
    let b = budget(&store, 10.0, 10, 0.5, 60.0);
    let permit = b.acquire("GET /x", b.max_wait()).await.unwrap();
    // We sent one, others spent the 5 reserved: the server has 4 left, all ours.
    let reserve_spent = RateLimitHeaders { remaining: Some(4.0), ..Default::default() };
    b.observe(&permit, &reserve_spent).await;
    assert_eq!(send_times(&b, 5).await, [0, 0, 0, 200, 400]);
    // Now the server is empty: our usable part is fully booked, in our own intervals.
    let permit = b.acquire("GET /x", b.max_wait()).await.unwrap();
    let empty = RateLimitHeaders { remaining: Some(0.0), ..Default::default() };
    b.observe(&permit, &empty).await;
    let next = b.acquire("GET /x", b.max_wait()).await.unwrap();
    assert_eq!((next.sent_at - permit.sent_at).as_millis(), 200);
}

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

#[tokio::test(start_paused = true)]
async fn the_budget_follows_the_servers_bucket_size_from_its_first_response() {
    let store = Arc::new(MemoryStore::new());
    let b = budget(&store, 10.0, 120, 0.0, 60.0);
    let permit = b.acquire("GET /x", b.max_wait()).await.unwrap();
    // The server's bucket holds 10, not the configured 120; 9 are left.
    let server = RateLimitHeaders { limit: Some(10), remaining: Some(9.0), ..Default::default() };
    b.observe(&permit, &server).await;
    assert_eq!(b.burst(), 10);
    // Capacity 9 (one token of margin), one spent: 8 at once, then one per interval.
    assert_eq!(send_times(&b, 10).await, [0, 0, 0, 0, 0, 0, 0, 0, 100, 200]);
}

#[tokio::test(start_paused = true)]
async fn a_larger_server_bucket_is_used_whole() {
    let store = Arc::new(MemoryStore::new());
    let b = budget(&store, 10.0, 5, 0.0, 60.0);
    let permit = b.acquire("GET /x", b.max_wait()).await.unwrap();
    let server = RateLimitHeaders { limit: Some(20), remaining: Some(19.0), ..Default::default() };
    b.observe(&permit, &server).await;
    assert_eq!(send_times(&b, 19).await[17..], [0, 100]);
}

#[tokio::test(start_paused = true)]
async fn a_server_bucket_unlike_api_burst_is_reported_once_with_both_figures() {
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt().with_writer(logs.clone()).with_ansi(false).finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let store = Arc::new(MemoryStore::new());
    let b = budget(&store, 10.0, 120, 0.0, 60.0);
    for _ in 0..3 {
        let permit = b.acquire("GET /x", b.max_wait()).await.unwrap();
        b.observe(&permit, &RateLimitHeaders { limit: Some(10), ..Default::default() }).await;
    }
    let text = logs.text();
    assert_eq!(text.matches("WARN").count(), 1, "{text}");
    assert!(
        text.contains("budget.configured_burst=120") && text.contains("budget.server_burst=10"),
        "{text}"
    );
}

/// Log lines written by a test's subscriber.
#[derive(Clone, Default)]
struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}
