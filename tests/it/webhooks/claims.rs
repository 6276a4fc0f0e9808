//! Several processes on one database: a batch is claimed by one of them
//! (`FOR UPDATE SKIP LOCKED` and a lease), so its GETs are sent once; a
//! batch whose process stopped renewing is claimed again when its lease
//! ends, even while that process's session lives on.

use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;
use tokportal_sync::db::Owner;
use tokportal_sync::webhooks::events::{self, Pending};
use tokportal_sync::webhooks::{Outcome, refresh_once};

use super::support::{mirrored, refresher, sim, store};

#[sqlx::test]
async fn two_processes_refreshing_at_once_send_the_batch_s_request_once(pool: PgPool) {
    let sim = sim(3).await;
    mirrored(&pool, &sim).await;
    let id = sim.bundle_ids()[0].clone();
    store(&pool, "evt_shared", "bundle.published", json!({ "id": id })).await;
    // Each answer is held back, so both processes ask for work while the first GET is in flight.
    sim.update_faults(|f| {
        f.stall_next = 2;
        f.stall_ms = 500;
    })
    .unwrap();
    let before = sim.key_stats(tokportal_sync::sim::DEMO_KEY).unwrap().requests;
    let (one, two) = (refresher(&pool, &sim, Duration::ZERO), refresher(&pool, &sim, Duration::ZERO));
    let (a, b) = tokio::join!(refresh_once(&one), refresh_once(&two));
    let outcomes = [a.unwrap(), b.unwrap()];
    let refreshed = outcomes.iter().filter(|o| matches!(o, Outcome::Refreshed { requests: 1, .. })).count();
    assert_eq!(refreshed, 1, "{outcomes:?}");
    assert!(outcomes.contains(&Outcome::Idle), "{outcomes:?}");
    assert_eq!(sim.key_stats(tokportal_sync::sim::DEMO_KEY).unwrap().requests - before, 1, "one GET in all");
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_batch_whose_lease_ended_is_refreshed_by_another_process_and_the_old_claim_records_nothing(
    pool: PgPool,
) {
    let sim = sim(3).await;
    mirrored(&pool, &sim).await;
    let id = sim.bundle_ids()[1].clone();
    store(&pool, "evt_orphan", "bundle.published", json!({ "id": id })).await;
    // A process claims the batch and hangs, its session open: its lease (zero here) ends at once.
    let hung = Owner::new(&pool);
    let Pending::Ready(dead) = events::claim(&pool, &hung, Duration::ZERO, Duration::ZERO).await.unwrap()
    else {
        panic!("the event is claimable");
    };
    let r = refresher(&pool, &sim, Duration::ZERO);
    assert!(matches!(refresh_once(&r).await.unwrap(), Outcome::Refreshed { events: 1, requests: 1, .. }));
    let mut conn = pool.acquire().await.unwrap();
    assert!(!events::mark_refreshed(&mut conn, &dead, "late").await.unwrap(), "superseded");
    let what: Option<String> =
        sqlx::query_scalar("SELECT refreshed FROM tokportal.webhook_events WHERE id = 'evt_orphan'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(what.as_deref(), Some("bundle"));
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_claimed_batch_is_not_claimed_again_while_its_lease_runs(pool: PgPool) {
    store(&pool, "evt_held", "bundle.published", json!({ "id": "b1" })).await;
    let (holder, other) = (Owner::new(&pool), Owner::new(&pool));
    let first = events::claim(&pool, &holder, Duration::ZERO, Duration::from_secs(600)).await.unwrap();
    assert!(matches!(first, Pending::Ready(ref b) if b.ids == ["evt_held"]), "{first:?}");
    let again = events::claim(&pool, &other, Duration::ZERO, Duration::from_secs(600)).await.unwrap();
    assert_eq!(again, Pending::None);
}
