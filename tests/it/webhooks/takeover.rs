//! A webhook batch's claim ends as soon as its process's session does (the
//! process died) and never while its refresh runs: the claim is tied to the
//! process's owner session, and its lease is renewed while the refresh is in
//! flight.

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::PgPool;
use tokportal_sync::sim::DEMO_KEY;
use tokportal_sync::webhooks::refresh::LEASE;
use tokportal_sync::webhooks::{Outcome, Refresher, refresh_once};

use super::support::{mirrored, refresher, sim, store};
use crate::api_support::{budget_options, client, client_options};

#[sqlx::test]
async fn a_dead_process_s_batch_is_refreshed_by_another_as_soon_as_its_session_ends(pool: PgPool) {
    let sim = sim(3).await;
    mirrored(&pool, &sim).await;
    let id = sim.bundle_ids()[0].clone();
    store(&pool, "evt_dead", "bundle.published", json!({ "id": id })).await;
    // A process with a 600 s lease refreshes the batch; its GET is held by the API.
    let long = Duration::from_secs(600);
    let mut options = client_options(&sim, DEMO_KEY);
    options.timeout = long;
    let dying = Refresher {
        client: client(options, budget_options(10_000.0, 10_000)),
        lease: long,
        ..refresher(&pool, &sim, Duration::ZERO)
    };
    sim.update_faults(|f| {
        f.stall_next = 1;
        f.stall_ms = 600_000;
    })
    .unwrap();
    let refreshing = tokio::spawn({
        let dying = dying.clone();
        async move { refresh_once(&dying).await }
    });
    while sim.stats().faults_fired.stalled < 1 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let other = Refresher { lease: long, ..refresher(&pool, &sim, Duration::ZERO) };
    let outcome = refresh_once(&other).await.unwrap();
    assert!(
        matches!(outcome, Outcome::Idle | Outcome::Wait(_)),
        "taken over from a live process: {outcome:?}"
    );
    // The process dies: its requests stop and Postgres ends its session (what a SIGKILL does).
    refreshing.abort();
    dying.owner.close().await;
    let died = Instant::now();
    loop {
        // Until taken over: the harness ends a test that never gets there (.config/nextest.toml).
        if matches!(refresh_once(&other).await.unwrap(), Outcome::Refreshed { events: 1, .. }) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("taken over {:.2} s after the session ended", died.elapsed().as_secs_f64());
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_live_refresh_outlasting_its_lease_is_never_taken_over(pool: PgPool) {
    let sim = sim(3).await;
    mirrored(&pool, &sim).await;
    let id = sim.bundle_ids()[1].clone();
    store(&pool, "evt_slow", "bundle.published", json!({ "id": id })).await;
    // The answer to the refresh's GET is held longer than a lease.
    let mut options = client_options(&sim, DEMO_KEY);
    options.timeout = LEASE * 2;
    let slow = Refresher {
        client: client(options, budget_options(10_000.0, 10_000)),
        ..refresher(&pool, &sim, Duration::ZERO)
    };
    sim.update_faults(|f| {
        f.stall_next = 1;
        f.stall_ms = (LEASE + Duration::from_secs(2)).as_millis() as u64;
    })
    .unwrap();
    let before = sim.key_stats(DEMO_KEY).unwrap().requests;
    let refreshing = tokio::spawn(async move { refresh_once(&slow).await });
    let started = Instant::now();
    let claimed = "SELECT claimed_until IS NOT NULL FROM tokportal.webhook_events WHERE id = 'evt_slow'";
    while !sqlx::query_scalar::<_, bool>(claimed).fetch_one(&pool).await.unwrap() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let other = refresher(&pool, &sim, Duration::ZERO);
    while !refreshing.is_finished() {
        // The client's own timeout (two leases) ends the refresh.
        let outcome = refresh_once(&other).await.unwrap();
        assert!(matches!(outcome, Outcome::Idle | Outcome::Wait(_)), "taken over: {outcome:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(started.elapsed() > LEASE, "the refresh outlasted its lease");
    let outcome = refreshing.await.unwrap().unwrap();
    assert!(matches!(outcome, Outcome::Refreshed { events: 1, requests: 1, .. }), "{outcome:?}");
    assert_eq!(sim.key_stats(DEMO_KEY).unwrap().requests - before, 1, "one GET in all");
    sim.shutdown().await;
}
