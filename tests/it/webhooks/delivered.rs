//! Events the simulator emits and delivers, signed, to the receiver: the
//! mirror follows the changes at one or two requests an event, whatever the
//! simulator does to the deliveries (duplicates, out of order, bad or late
//! signatures retried).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tokportal_sync::sim::{self, SimConfig, SimServer, WebhookConfig};
use tokportal_sync::webhooks;

use super::support::{mirrored, refresher, serve_registered, stored};
use crate::mirror::support::expected;

fn set(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn status(sim: &SimServer, id: &str) -> String {
    sim.bundle(id).expect("a bundle of the simulator").item["status"].as_str().unwrap_or_default().to_string()
}

/// A simulator without rate limiting whose failed deliveries are retried
/// after 50 ms instead of a second.
async fn quick_sim(bundles: usize) -> SimServer {
    let webhooks = WebhookConfig { retry_base: Duration::from_millis(50), ..WebhookConfig::default() };
    sim::start(SimConfig { bundles, rate_limit: false, webhooks, ..SimConfig::default() })
        .await
        .expect("the simulator starts")
}

/// The mirror's live rows as (bundles, accounts, slots), shaped like [`expected`].
async fn live(
    pool: &PgPool,
) -> (BTreeMap<String, Value>, BTreeMap<String, Value>, BTreeMap<(String, i32), Value>) {
    let bundles = sqlx::query_as::<_, (String, Value)>(
        "SELECT id, data FROM tokportal.bundles WHERE deleted_at IS NULL",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let accounts = sqlx::query_as::<_, (String, Value)>(
        "SELECT bundle_id, data FROM tokportal.bundle_accounts WHERE deleted_at IS NULL",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let videos = sqlx::query_as::<_, (String, i32, Value)>(
        "SELECT bundle_id, position, data FROM tokportal.bundle_videos WHERE deleted_at IS NULL",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    (
        bundles.into_iter().collect(),
        accounts.into_iter().collect(),
        videos.into_iter().map(|(b, p, d)| ((b, p), d)).collect(),
    )
}

/// Waits until the mirror equals the simulator's dataset (a bound on the
/// wait, not a speed: the benchmark measures how fast).
async fn until_mirror_equals(pool: &PgPool, sim: &SimServer, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let e = expected(sim);
        let (bundles, accounts, videos) = live(pool).await;
        if bundles == e.bundles && accounts == e.accounts && videos == e.videos {
            return;
        }
        assert!(Instant::now() < deadline, "the mirror did not follow the simulator within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Until every event the simulator emitted is settled (delivered or given up).
async fn until_delivered(sim: &SimServer, within: Duration) {
    let deadline = Instant::now() + within;
    while !sim.webhook_events().iter().flat_map(|e| &e.deliveries).all(|d| d.state.is_final()) {
        assert!(Instant::now() < deadline, "deliveries still pending after {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A receiver registered with `sim` for every type, and a refresher on it
/// (coalescing for 100 ms); returns the refresher's client and its stop.
async fn wired(pool: &PgPool, sim: &SimServer) -> (tokportal_sync::api::Client, CancellationToken) {
    let wake = serve_registered(pool, sim).await;
    let r = refresher(pool, sim, Duration::from_millis(100));
    let client = r.client.clone();
    let stop = CancellationToken::new();
    tokio::spawn(webhooks::run(r, wake, stop.clone()));
    (client, stop)
}

#[sqlx::test]
async fn changes_delivered_by_the_simulator_reach_the_mirror_at_one_request_an_event(pool: PgPool) {
    let sim = quick_sim(12).await;
    mirrored(&pool, &sim).await;
    let (client, stop) = wired(&pool, &sim).await;
    let ids = sim.bundle_ids();
    // One change of each family, on three bundles.
    let unpublished = ids.iter().find(|id| status(&sim, id) != "published").unwrap().clone();
    assert!(
        sim.change_bundle(&unpublished, set(&[("status", json!("published")), ("title", json!("live"))]))
    );
    let with_slots = ids.iter().find(|id| {
        *id != &unpublished && sim.bundle_videos(id).and_then(|v| v.as_array().map(Vec::len)).unwrap_or(0) > 0
    });
    let with_slots = with_slots.expect("a bundle with video slots").clone();
    assert!(sim.change_video(&with_slots, 1, set(&[("caption", json!("new caption"))])));
    let other = ids.iter().find(|id| **id != unpublished && **id != with_slots).unwrap().clone();
    assert!(sim.change_account(&other, set(&[("bio", json!("changed bio"))])));

    until_delivered(&sim, Duration::from_secs(30)).await;
    until_mirror_equals(&pool, &sim, Duration::from_secs(30)).await;
    let events = sim.webhook_events();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["bundle.published", "video.updated", "account.updated"]);
    assert_eq!(stored(&pool).await, 3);
    assert_eq!(client.counters().requests, 3, "one request an event");
    stop.cancel();
    sim.shutdown().await;
}

#[sqlx::test]
async fn duplicated_and_reordered_deliveries_leave_the_mirror_right(pool: PgPool) {
    let sim = quick_sim(8).await;
    mirrored(&pool, &sim).await;
    let (_, stop) = wired(&pool, &sim).await;
    sim.update_faults(|f| {
        f.webhook_duplicate_next = 2;
        f.webhook_out_of_order_next = 1;
    })
    .unwrap();
    let ids = sim.bundle_ids();
    let id = ids.iter().find(|id| status(&sim, id) != "published").unwrap().clone();
    // Published, then cancelled: the first event arrives after the second.
    assert!(sim.change_bundle(&id, set(&[("status", json!("published")), ("title", json!("first"))])));
    assert!(sim.change_bundle(&id, set(&[("status", json!("cancelled")), ("title", json!("second"))])));
    // A later event for another bundle releases the held one.
    let other = ids.iter().find(|o| **o != id && status(&sim, o) != "published").unwrap().clone();
    assert!(sim.change_bundle(&other, set(&[("status", json!("published"))])));

    until_delivered(&sim, Duration::from_secs(30)).await;
    until_mirror_equals(&pool, &sim, Duration::from_secs(30)).await;
    let fired = sim.stats().faults_fired;
    assert_eq!((fired.webhook_duplicated, fired.webhook_reordered), (2, 1));
    assert_eq!(stored(&pool).await, 3, "each event stored once, duplicates included");
    let (status, title): (String, Option<String>) =
        sqlx::query_as("SELECT status, title FROM tokportal.bundles WHERE id = $1")
            .bind(&id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), title.as_deref()), ("cancelled", Some("second")), "the latest state wins");
    stop.cancel();
    sim.shutdown().await;
}

#[sqlx::test]
async fn bad_and_late_signatures_are_refused_and_their_retries_accepted(pool: PgPool) {
    let sim = quick_sim(8).await;
    mirrored(&pool, &sim).await;
    let (_, stop) = wired(&pool, &sim).await;
    let ids = sim.bundle_ids();
    let mut unpublished = ids.iter().filter(|id| status(&sim, id) != "published").cloned();
    // One event signed with another secret, the next stamped 600 s ago.
    for (n, fault) in ["bad_signature", "late"].into_iter().enumerate() {
        sim.update_faults(|f| match fault {
            "late" => f.webhook_late_next = 1,
            _ => f.webhook_bad_signature_next = 1,
        })
        .unwrap();
        let id = unpublished.next().expect("an unpublished bundle");
        assert!(sim.change_bundle(&id, set(&[("status", json!("published")), ("title", json!(fault))])));
        until_delivered(&sim, Duration::from_secs(30)).await;
        let attempts = &sim.webhook_events()[n].deliveries[0].attempts;
        let seen: Vec<(Option<u16>, Vec<&str>)> =
            attempts.iter().map(|a| (a.status, a.faults.clone())).collect();
        assert_eq!(seen, [(Some(401), vec![fault]), (Some(200), vec![])], "refused, then accepted");
    }
    until_mirror_equals(&pool, &sim, Duration::from_secs(30)).await;
    let fired = sim.stats().faults_fired;
    assert_eq!((fired.webhook_bad_signature, fired.webhook_late), (1, 1));
    assert_eq!(stored(&pool).await, 2);
    stop.cancel();
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_dropped_delivery_leaves_the_change_to_the_walk(pool: PgPool) {
    let sim = quick_sim(8).await;
    mirrored(&pool, &sim).await;
    let (client, stop) = wired(&pool, &sim).await;
    sim.update_faults(|f| f.webhook_drop_next = 1).unwrap();
    let ids = sim.bundle_ids();
    let id = ids.iter().find(|id| status(&sim, id) != "published").unwrap().clone();
    assert!(sim.change_bundle(&id, set(&[("status", json!("published")), ("title", json!("unannounced"))])));
    until_delivered(&sim, Duration::from_secs(30)).await;
    assert_eq!(stored(&pool).await, 0);
    assert_eq!(client.counters().requests, 0, "no event, no refresh");
    // The periodic walk is the safety net.
    mirrored(&pool, &sim).await;
    until_mirror_equals(&pool, &sim, Duration::from_secs(30)).await;
    stop.cancel();
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_created_bundle_reaches_the_mirror_with_its_slots_and_account(pool: PgPool) {
    let sim = quick_sim(6).await;
    mirrored(&pool, &sim).await;
    let (client, stop) = wired(&pool, &sim).await;
    // Enough new bundles that some have slots and, most likely, one has none.
    let created = sim.insert_bundles(6);
    until_delivered(&sim, Duration::from_secs(30)).await;
    until_mirror_equals(&pool, &sim, Duration::from_secs(30)).await;
    let with_slots = |id: &String| sim.bundle(id).unwrap().item["videos_quantity"].as_i64() != Some(0);
    let slotted = created.iter().filter(|id| with_slots(id)).count();
    assert!(slotted > 0, "a new bundle with slots");
    assert_eq!(stored(&pool).await, 6);
    // The bundle, its account, and its slots unless it has none.
    assert_eq!(client.counters().requests, (2 * created.len() + slotted) as u64);
    stop.cancel();
    sim.shutdown().await;
}
