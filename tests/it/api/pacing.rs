//! The budget against the simulator's token bucket: burst then rate with no
//! 429, 429s waited out as the server asks, the bounded wait, slowing down
//! when another client spends the same key, refreshes ahead of a walk, and a
//! long block probed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tokportal_sync::api::gcra::Correction;
use tokportal_sync::api::{ApiError, BudgetStore, IdempotencyKey, MemoryStore, MutationMethod};
use tokportal_sync::sim::DEMO_KEY;

use super::support::{
    WatchedStore, budget_options, client, client_on, client_options, demo_client, scripted, sim_with,
};

const CREATE: &str = r#"{"bundle_type":"account_only","platform":"tiktok","country":"US"}"#;

#[tokio::test]
async fn a_client_spends_the_burst_then_keeps_to_the_rate_without_a_429() {
    let sim = sim_with(10, 50.0, 10).await;
    let c = demo_client(&sim, 50.0, 10);
    let start = Instant::now();
    for _ in 0..40 {
        c.get("/bundles", &[]).await.unwrap();
    }
    // Nine go at once (one token stays as a margin), the other 31 one interval apart.
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(610), "{elapsed:?}");
    // Not slower than the rate: the client's own count of time spent waiting
    // for budget (a slow machine makes round trips longer, never this).
    let waited = c.counters().budget_wait;
    assert!(waited < Duration::from_millis(620 + 500), "waited {waited:?} for budget");
    assert_eq!(sim.key_stats(DEMO_KEY).unwrap().rate_limited, 0);
    assert_eq!(c.counters().requests, 40);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_429_is_waited_out_for_at_least_retry_after_and_then_succeeds() {
    let sim = sim_with(10, 10.0, 5).await;
    // Empty the bucket: the next request is refused with Retry-After: 1.
    assert!(sim.drain(DEMO_KEY, Duration::ZERO));
    let c = demo_client(&sim, 10.0, 5);
    let start = Instant::now();
    assert_eq!(c.get("/bundles", &[]).await.unwrap().status, 200);
    assert!(start.elapsed() >= Duration::from_secs(1), "{:?}", start.elapsed());
    assert_eq!(c.counters().rate_limited, 1);
    assert!(c.counters().budget_wait >= Duration::from_secs(1));
    assert_eq!(sim.key_stats(DEMO_KEY).unwrap().rate_limited, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_429_waits_for_the_larger_of_retry_after_and_retry_after_seconds() {
    let sim = sim_with(10, 10.0, 5).await;
    // Retry-After: 1, details.retry_after_seconds: 2 (the reference's own example).
    sim.update_faults(|f| f.retry_after_details_extra_secs = 1).unwrap();
    assert!(sim.drain(DEMO_KEY, Duration::ZERO));
    // Between the two: honouring only Retry-After would wait about 1.1 s and succeed.
    let mut budget = budget_options(10.0, 5);
    budget.max_wait = Duration::from_millis(1500);
    let c = client(client_options(&sim, DEMO_KEY), budget);
    let err = c.get("/bundles", &[]).await.unwrap_err();
    assert!(matches!(&err, ApiError::RateLimited { wait, .. } if *wait >= Duration::from_secs(2)), "{err:?}");
    // It failed without sleeping for budget: the client's own count of time
    // waited for budget, not the wall clock of a round trip.
    let waited = c.counters().budget_wait;
    assert!(waited < budget.max_wait, "it waited {waited:?} for budget");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_request_that_would_wait_longer_than_max_wait_fails_at_once_saying_so() {
    let sim = sim_with(10, 10.0, 5).await;
    assert!(sim.drain(DEMO_KEY, Duration::from_secs(30)));
    let mut budget = budget_options(10.0, 5);
    budget.max_wait = Duration::from_secs(2);
    let c = client(client_options(&sim, DEMO_KEY), budget);
    let err = c.get("/bundles", &[]).await.unwrap_err();
    match &err {
        ApiError::RateLimited { wait, max_wait, .. } => {
            assert!(*wait >= Duration::from_secs(30), "{wait:?}");
            assert_eq!(*max_wait, Duration::from_secs(2));
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert!(err.to_string().contains("rate limited"), "{err}");
    // It failed without sleeping for budget: the client's own count of time
    // waited for budget, not the wall clock of a round trip.
    let waited = c.counters().budget_wait;
    assert!(waited < budget.max_wait, "it waited {waited:?} for budget");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_client_slows_down_when_another_client_spends_the_same_key() {
    let sim = sim_with(10, 20.0, 20).await;
    let c = demo_client(&sim, 20.0, 20);
    c.get("/bundles", &[]).await.unwrap();
    // Another program, outside this budget, spends 15 of the 19 tokens left.
    let other = reqwest::Client::new();
    for _ in 0..15 {
        let url = format!("{}/bundles", sim.base_url());
        let status = other.get(url).header("X-API-Key", DEMO_KEY).send().await.unwrap().status();
        assert_eq!(status, 200);
    }
    // Believing 18 tokens remain would mean a burst of 429s; the headers of
    // the next response tell the client otherwise.
    for _ in 0..25 {
        c.get("/bundles", &[]).await.unwrap();
    }
    assert_eq!(sim.key_stats(DEMO_KEY).unwrap().rate_limited, 0);
    assert_eq!(c.counters().rate_limited, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_mutation_meeting_a_429_waits_it_out_and_executes_once() {
    let sim = sim_with(10, 5.0, 5).await;
    let c = demo_client(&sim, 5.0, 5);
    let key = tokportal_sync::api::IdempotencyKey::new("job-429").unwrap();
    let body = r#"{"bundle_type":"account_only","platform":"tiktok","country":"US"}"#;
    // Empty the bucket: the mutation is refused once with Retry-After: 1, executing nothing.
    assert!(sim.drain(DEMO_KEY, Duration::ZERO));
    let created =
        c.mutate(tokportal_sync::api::MutationMethod::Post, "/bundles", &key, Some(body)).await.unwrap();
    assert!(created.status == 201 && !created.replayed, "{created:?}");
    assert_eq!(c.counters().rate_limited, 1);
    assert_eq!(c.counters().retries, 0, "a 429 is waited out, not retried");
    assert!(c.counters().budget_wait >= Duration::from_secs(1), "{:?}", c.counters().budget_wait);
    let stats = sim.key_stats(DEMO_KEY).unwrap();
    assert_eq!((stats.rate_limited, stats.executions), (1, 1));
    sim.shutdown().await;
}

#[tokio::test]
async fn consecutive_429s_of_one_request_pause_longer_each_time() {
    use std::sync::{Arc, Mutex};

    use axum::http::{HeaderMap, StatusCode};

    // A server answering three 429s asking for no wait (Retry-After: 0), then 200,
    // noting when each attempt arrives: the pauses are the client's extra alone.
    let arrivals = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let seen = arrivals.clone();
    let app = axum::Router::new().route(
        "/bundles",
        axum::routing::get(move || {
            let seen = seen.clone();
            async move {
                let n = {
                    let mut seen = seen.lock().unwrap();
                    seen.push(Instant::now());
                    seen.len()
                };
                let mut headers = HeaderMap::new();
                if n <= 3 {
                    headers.insert("retry-after", "0".parse().unwrap());
                    return (StatusCode::TOO_MANY_REQUESTS, headers, "slow down");
                }
                (StatusCode::OK, headers, r#"{"data":[]}"#)
            }
        }),
    );
    let (options, server) = scripted(app).await;
    // Rate 5/s: one interval is 0.2 s, the first extra lies in [0.2, 0.4) s.
    let c = client(options, budget_options(5.0, 5));
    assert_eq!(c.get("/bundles", &[]).await.unwrap().status, 200);
    assert_eq!(c.counters().rate_limited, 3);
    let at = arrivals.lock().unwrap().clone();
    let gaps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
    // The extra doubles with each consecutive 429: [0.2, 0.4), [0.4, 0.8), [0.8, 1.6).
    // Were it to start over at each 429, every pause would stay below 0.4 s.
    assert!(gaps[1] >= Duration::from_millis(390) && gaps[2] >= Duration::from_millis(790), "{gaps:?}");
    assert!(gaps[2] > gaps[0], "{gaps:?}");
    server.abort();
}

#[tokio::test]
async fn a_client_configured_for_a_bigger_bucket_than_the_servers_follows_the_servers_without_a_429() {
    use std::sync::Arc;

    use tokportal_sync::api::{Budget, Client, MemoryStore};

    // The server's bucket holds 10 where api.burst says 120.
    let sim = sim_with(10, 20.0, 10).await;
    let fingerprint = tokportal_sync::secret::fingerprint(&secrecy::SecretString::from(DEMO_KEY));
    let budget = Arc::new(Budget::new(Arc::new(MemoryStore::new()), fingerprint, budget_options(20.0, 120)));
    let c = Client::new(client_options(&sim, DEMO_KEY), budget.clone()).unwrap();
    let start = Instant::now();
    for _ in 0..30 {
        c.get("/bundles", &[]).await.unwrap();
    }
    assert_eq!(budget.burst(), 10);
    assert_eq!(sim.key_stats(DEMO_KEY).unwrap().rate_limited, 0);
    assert_eq!(c.counters().rate_limited, 0);
    // Paced by the server's bucket: 9 at once (one token of margin), the
    // other 21 one interval (50 ms) apart. A bucket of 120 would send all 30 at once.
    assert!(start.elapsed() >= Duration::from_millis(1050), "{:?}", start.elapsed());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_refresh_clone_goes_ahead_of_the_walk_requests_waiting_without_a_429() {
    use tokportal_sync::api::Priority;

    // 20 requests/s: nine at once, then one every 50 ms.
    let sim = sim_with(10, 20.0, 10).await;
    let store = Arc::new(WatchedStore::default());
    let walk = client_on(store.clone(), client_options(&sim, DEMO_KEY), budget_options(20.0, 10));
    let refresh = walk.with_priority(Priority::Refresh { walk_share: 0.5 });
    // Forty pages in flight: after the burst, a queue of about 1.5 s.
    let pages: Vec<_> = (0..40)
        .map(|_| {
            let c = walk.clone();
            tokio::spawn(async move { c.get("/bundles", &[]).await.unwrap() })
        })
        .collect();
    // The refresh comes once every page has booked its send: the burst has
    // gone out and the other pages wait in the budget's queue.
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.booked() < 40 {
        assert!(Instant::now() < deadline, "{} of the 40 pages booked a send within 30 s", store.booked());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    refresh.get("/bundles/b1", &[]).await.ok();
    let queued = pages.iter().filter(|p| !p.is_finished()).count();
    for p in pages {
        p.await.unwrap();
    }
    // Behind the queue it would have come back after every page.
    assert!(queued >= 10, "the refresh went ahead of {queued} pages still waiting");
    assert_eq!(sim.key_stats(DEMO_KEY).unwrap().rate_limited, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_long_429_block_is_lifted_by_a_probe_for_every_client_of_the_key() {
    use std::sync::{Arc, Mutex};

    use axum::http::{HeaderMap, StatusCode};

    use super::support::client_probing;

    // A server asking for ten minutes after the first request, then serving
    // again at once (its trouble was shorter than it said).
    let arrivals = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let seen = arrivals.clone();
    let app = axum::Router::new().route(
        "/bundles",
        axum::routing::get(move || {
            let seen = seen.clone();
            async move {
                let n = {
                    let mut seen = seen.lock().unwrap();
                    seen.push(Instant::now());
                    seen.len()
                };
                let mut headers = HeaderMap::new();
                if n == 1 {
                    headers.insert("retry-after", "600".parse().unwrap());
                    return (StatusCode::TOO_MANY_REQUESTS, headers, "slow down");
                }
                (StatusCode::OK, headers, r#"{"data":[]}"#)
            }
        }),
    );
    let (options, server) = scripted(app).await;
    let mut budget = budget_options(5.0, 5);
    budget.max_wait = Duration::from_secs(900);
    // Two processes of the key: one store, two clients probing every second.
    let store = Arc::new(WatchedStore::default());
    let every = Duration::from_secs(1);
    let first = client_probing(store.clone(), options.clone(), budget, every);
    let second = client_probing(store.clone(), options, budget, every);
    let blocked = tokio::spawn(async move { first.get("/bundles", &[]).await.map(|r| r.status) });
    // The second client asks once the first one's 429 is a block in the store
    // they share, so it waits for the block's probe.
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.blocks() == 0 {
        assert!(Instant::now() < deadline, "the first request's 429 was not written as a block within 30 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let other = second.get("/bundles", &[]).await.unwrap();
    assert_eq!((blocked.await.unwrap().unwrap(), other.status), (200, 200));
    let at = arrivals.lock().unwrap().clone();
    assert_eq!(at.len(), 3, "the 429, the probe, then the other request");
    // The probe waited its interval, and went long before the 600 s the
    // server asked for ended: the block was lifted, not waited out.
    let probe = at[1] - at[0];
    assert!(probe >= Duration::from_millis(950), "the probe went {probe:?} after the 429");
    assert!(probe < Duration::from_secs(600), "the probe went {probe:?} after the 429");
    server.abort();
}

/// A clone made `with_cancel` sends nothing once cancelled while it waits for
/// the budget: the request ends at once with `Cancelled` instead of waiting.
#[tokio::test]
async fn a_request_waiting_for_the_budget_is_not_sent_once_its_client_is_cancelled() {
    let sim = sim_with(10, 10.0, 5).await;
    let store = Arc::new(MemoryStore::new());
    let options = client_options(&sim, DEMO_KEY);
    let key = tokportal_sync::secret::fingerprint(&options.key);
    // Another process has booked the key 200 s ahead: the next send waits that long.
    let ahead = Correction { tat_at_least: Some(200.0), block_for: None, probe_in: None };
    store.correct(&key, ahead).await.unwrap();
    let mut budget = budget_options(10.0, 5);
    budget.max_wait = Duration::from_secs(600);
    let cancel = CancellationToken::new();
    let c = client_on(store, options, budget).with_cancel(cancel.clone());
    let mut waiting = tokio::spawn({
        let c = c.clone();
        async move { c.get("/bundles", &[]).await }
    });
    // It cannot be sent for 200 s: after a moment it is still waiting.
    assert!(tokio::time::timeout(Duration::from_millis(300), &mut waiting).await.is_err());
    cancel.cancel();
    let ended = tokio::time::timeout(Duration::from_secs(30), waiting).await.expect("ends once cancelled");
    let err = ended.unwrap().unwrap_err();
    assert!(err.is_cancelled(), "{err:?}");
    assert!(err.to_string().contains("not sent"), "{err}");
    assert_eq!(sim.key_stats(DEMO_KEY).unwrap().requests, 0, "nothing reached the server");
    assert_eq!(c.counters().requests, 0);
    sim.shutdown().await;
}

/// A mutation that met a 429 and waits out the block is not sent again once
/// cancelled: the server saw the one refused request and executed nothing.
#[tokio::test]
async fn a_mutation_waiting_out_a_429_is_not_sent_once_its_client_is_cancelled() {
    let sim = sim_with(10, 10.0, 5).await;
    // The next request is refused with a Retry-After of 100 s.
    assert!(sim.drain(DEMO_KEY, Duration::from_secs(100)));
    let mut budget = budget_options(10.0, 5);
    budget.max_wait = Duration::from_secs(600);
    let cancel = CancellationToken::new();
    let c = client(client_options(&sim, DEMO_KEY), budget).with_cancel(cancel.clone());
    let key = IdempotencyKey::new("cancelled-while-blocked").unwrap();
    let mut waiting = tokio::spawn({
        let c = c.clone();
        async move { c.mutate(MutationMethod::Post, "/bundles", &key, Some(CREATE)).await }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.counters().rate_limited == 0 {
        assert!(Instant::now() < deadline, "the first send never met its 429");
        assert!(tokio::time::timeout(Duration::from_millis(20), &mut waiting).await.is_err());
    }
    cancel.cancel();
    let ended = tokio::time::timeout(Duration::from_secs(30), waiting).await.expect("ends once cancelled");
    let err = ended.unwrap().unwrap_err();
    assert!(err.is_cancelled(), "{err:?}");
    let stats = sim.key_stats(DEMO_KEY).unwrap();
    assert_eq!((stats.requests, stats.rate_limited, stats.executions), (1, 1, 0));
    sim.shutdown().await;
}
