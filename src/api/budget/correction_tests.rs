//! Corrections from the server's headers, under paused time: the budget
//! slows down when the server has fewer tokens than it booked, never more
//! than the headers prove, and follows the server's bucket size.

use std::sync::Arc;

use super::tests::{budget, send_times};
use super::*;
use crate::api::store::MemoryStore;

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
