//! A long 429 block probed instead of waited out, under paused time: two
//! budgets on one store stand for two processes sharing the key; a server
//! that serves again from `recovers` answers everything but probes before it
//! with another long 429, as the client reports it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::api::store::MemoryStore;

const RETRY_AFTER: Duration = Duration::from_secs(600);

fn budget(store: &Arc<MemoryStore>) -> Arc<Budget> {
    let options = BudgetOptions {
        rate_per_second: 2.0,
        burst: 120,
        reserved_share: 0.0,
        max_wait: Duration::from_secs(900),
    };
    // The default probe interval, 30 s.
    Arc::new(Budget::new(store.clone(), "fp".into(), options))
}

/// Every request that reached the server: when, and whether it was a probe.
#[derive(Clone, Default)]
struct Server(Arc<Mutex<Vec<(Instant, bool)>>>);

impl Server {
    fn sends(&self) -> Vec<(Instant, bool)> {
        let mut sends = self.0.lock().unwrap().clone();
        sends.sort_by_key(|(at, _)| *at);
        sends
    }
}

/// `n` requests one after the other, each as the client sends it: a 429
/// blocks the key, a probe's other answer lifts the block.
fn requests(b: &Arc<Budget>, server: &Server, recovers: Instant, n: usize) -> tokio::task::JoinHandle<()> {
    let (b, server) = (b.clone(), server.clone());
    tokio::spawn(async move {
        let mut done = 0;
        while done < n {
            let permit = b.acquire("GET /x", b.max_wait()).await.unwrap();
            server.0.lock().unwrap().push((permit.sent_at, permit.probe));
            if permit.sent_at < recovers {
                b.block(RETRY_AFTER).await;
                continue;
            }
            if permit.probe {
                b.lift().await;
            }
            done += 1;
        }
    })
}

#[tokio::test(start_paused = true)]
async fn a_600_s_block_is_probed_after_one_interval_and_requests_flow_once_the_server_recovered() {
    let store = Arc::new(MemoryStore::new());
    let (a, b) = (budget(&store), budget(&store));
    let start = Instant::now();
    a.block(RETRY_AFTER).await;
    let server = Server::default();
    let recovers = start + Duration::from_secs(10);
    let mut tasks: Vec<_> = (0..3).map(|_| requests(&a, &server, recovers, 5)).collect();
    tasks.extend((0..2).map(|_| requests(&b, &server, recovers, 5)));
    for t in tasks {
        t.await.unwrap();
    }
    let sends = server.sends();
    assert_eq!(sends.len(), 25, "no request was refused");
    assert_eq!(sends[0], (start + Duration::from_secs(30), true), "one probe, one interval in");
    assert!(sends[1..].iter().all(|(_, probe)| !probe), "one probe was enough");
    // Then paced from an empty bucket: one every 500 ms, the other process
    // joining once it asks again (a second after the probe).
    let after: Vec<Duration> = sends[1..].iter().map(|(at, _)| *at - sends[0].0).collect();
    assert_eq!(after[0], Duration::from_millis(500));
    assert!(after.windows(2).all(|w| w[1] - w[0] == Duration::from_millis(500)), "{after:?}");
    assert_eq!(*after.last().unwrap(), Duration::from_secs(12), "all sent within 42 s, not 600");
}

#[tokio::test(start_paused = true)]
async fn a_server_still_refusing_is_probed_once_per_interval_across_processes() {
    let store = Arc::new(MemoryStore::new());
    let (a, b) = (budget(&store), budget(&store));
    let start = Instant::now();
    a.block(RETRY_AFTER).await;
    let server = Server::default();
    let recovers = start + Duration::from_secs(100);
    let mut tasks: Vec<_> = (0..3).map(|_| requests(&a, &server, recovers, 1)).collect();
    tasks.extend((0..3).map(|_| requests(&b, &server, recovers, 1)));
    for t in tasks {
        t.await.unwrap();
    }
    let sends = server.sends();
    let probes: Vec<u64> =
        sends.iter().filter(|(_, probe)| *probe).map(|(at, _)| (*at - start).as_secs()).collect();
    assert_eq!(probes, [30, 60, 90, 120], "one probe an interval, each refused one renewing the block");
    assert!(
        sends.iter().all(|(at, probe)| *probe || *at > start + Duration::from_secs(120)),
        "nothing but the probes before the block was lifted: {sends:?}"
    );
    assert_eq!(sends.len(), 9);
}

#[tokio::test(start_paused = true)]
async fn a_request_that_cannot_wait_for_the_next_probe_fails_at_once() {
    let store = Arc::new(MemoryStore::new());
    let b = budget(&store);
    b.block(RETRY_AFTER).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let asked = Instant::now();
    let err = b.acquire("GET /x", Duration::from_secs(10)).await.unwrap_err();
    assert!(matches!(err, ApiError::RateLimited { .. }), "{err}");
    assert_eq!(asked.elapsed(), Duration::ZERO);
}
