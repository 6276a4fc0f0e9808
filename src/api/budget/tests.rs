//! The pacer under paused tokio time: sleeps complete instantly and the
//! clock reads exactly what the budget asked for. Here the pace (burst, rate,
//! reserved share, a shared key, the bounded wait) and 429 blocks; booking
//! ahead in batches is in `batch_tests`, corrections from the server's
//! headers in `correction_tests`.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::api::store::MemoryStore;

pub(super) fn budget(store: &Arc<MemoryStore>, rate: f64, burst: u32, share: f64, max_wait: f64) -> Budget {
    let options = BudgetOptions {
        rate_per_second: rate,
        burst,
        reserved_share: share,
        max_wait: Duration::from_secs_f64(max_wait),
    };
    Budget::new(store.clone(), "fp".into(), options)
}

/// Send times of `n` requests, in milliseconds from the start.
pub(super) async fn send_times(budget: &Budget, n: usize) -> Vec<u128> {
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
