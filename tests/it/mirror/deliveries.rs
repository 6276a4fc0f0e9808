//! `webhook_deliveries`: every delivery of every mirrored endpoint, the
//! endpoints in rotation within the run's requests, deletes under the one rule.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::PgPool;
use tokportal_sync::mirror::{Mirror, Status};
use tokportal_sync::sim::{self, DEMO_KEY, SimConfig, SimServer, WebhookConfig};

use super::support::{mirror, settings, sync};

/// A simulator without rate limiting that gives a delivery one attempt.
pub(super) async fn sim_once() -> SimServer {
    let webhooks =
        WebhookConfig { max_attempts: 1, timeout: Duration::from_secs(2), ..WebhookConfig::default() };
    sim::start(SimConfig { bundles: 3, rate_limit: false, webhooks, ..SimConfig::default() })
        .await
        .expect("the simulator starts")
}

/// An endpoint answering 200 to every delivery; returns its URL.
pub(super) async fn receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(|| async { "ok" });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// A URL nothing listens on: every delivery to it fails.
pub(super) async fn refused() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    drop(listener);
    url
}

/// Registers `urls` (every event type) and creates `bundles` bundles, whose
/// events are delivered to each; waits until no delivery will be attempted
/// again. Returns the endpoints' ids, in the order of `urls`.
pub(super) async fn delivered(sim: &SimServer, urls: &[String], bundles: usize) -> Vec<String> {
    let ids: Vec<String> =
        urls.iter().map(|url| sim.register_webhook(DEMO_KEY, url, &[]).expect("the demo key").id).collect();
    sim.insert_bundles(bundles);
    // A bound on the wait, not a speed.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !sim.webhook_events().iter().flat_map(|e| &e.deliveries).all(|d| d.state.is_final()) {
        assert!(Instant::now() < deadline, "deliveries still pending");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ids
}

/// What `GET /webhooks/{id}/deliveries` serves now, by id.
async fn served(sim: &SimServer, endpoint: &str) -> BTreeMap<String, Value> {
    let items = sim.webhook_deliveries_served(endpoint).expect("an endpoint of the simulator");
    items.into_iter().map(|item| (item["id"].as_str().unwrap().to_string(), item)).collect()
}

/// The mirror's live deliveries of `endpoint`, by id.
async fn mirrored(pool: &PgPool, endpoint: &str) -> BTreeMap<String, Value> {
    sqlx::query_as::<_, (String, Value)>(
        "SELECT id, data FROM tokportal.webhook_deliveries WHERE webhook_id = $1 AND deleted_at IS NULL",
    )
    .bind(endpoint)
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .collect()
}

/// The endpoint whose deliveries were walked to their end last.
async fn last_walked(pool: &PgPool) -> String {
    sqlx::query_scalar(
        "SELECT parent_id FROM tokportal.parent_fetches WHERE stream = 'webhook_deliveries' \
         AND fetched_at IS NOT NULL ORDER BY fetched_at DESC LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn walk_both(m: &Mirror) -> tokportal_sync::mirror::RunSummary {
    assert!(sync(m, "webhook_endpoints").await.status.succeeded());
    sync(m, "webhook_deliveries").await
}

#[sqlx::test]
async fn after_a_sync_the_mirror_holds_every_delivery_of_every_endpoint_and_a_second_writes_nothing(
    pool: PgPool,
) {
    let sim = sim_once().await;
    let endpoints = delivered(&sim, &[receiver().await, refused().await], 4).await;
    let m = mirror(&pool, &sim, settings());
    let run = walk_both(&m).await;
    assert_eq!(run.status, Status::Succeeded, "{run}");
    assert_eq!(run.kind, "parents");
    for endpoint in &endpoints {
        let served = served(&sim, endpoint).await;
        assert_eq!(served.len(), 4, "one delivery a bundle created");
        assert_eq!(mirrored(&pool, endpoint).await, served, "endpoint {endpoint}");
    }
    // The typed columns are the item's fields, where it has them.
    let rows: Vec<(Option<bool>, Option<i64>, Value)> =
        sqlx::query_as("SELECT success, attempts::int8, data FROM tokportal.webhook_deliveries")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 8);
    for (success, attempts, data) in rows {
        assert_eq!(success, Some(data["webhook_id"] == endpoints[0].as_str()), "{data}");
        assert_eq!(success, data["success"].as_bool(), "{data}");
        assert_eq!(attempts, data["attempts"].as_i64(), "{data}");
    }

    let again = sync(&m, "webhook_deliveries").await;
    assert_eq!((again.tally.inserted, again.tally.updated, again.tally.deleted), (0, 0, 0), "{again}");
    assert_eq!(
        (again.tally.items, again.tally.unchanged),
        (8, 8),
        "the two filtered walks partition: {again}"
    );
    let unmoved: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tokportal.webhook_deliveries WHERE last_seen_at < (SELECT started_at FROM \
         tokportal.sync_runs WHERE id = $1)",
    )
    .bind(again.run_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(unmoved, 8, "no row was rewritten");
    sim.shutdown().await;
}

#[sqlx::test]
async fn endpoints_rotate_within_the_runs_requests_and_every_one_is_walked_in_turn(pool: PgPool) {
    let sim = sim_once().await;
    let urls = [receiver().await, receiver().await, refused().await];
    let endpoints = delivered(&sim, &urls, 2).await;
    let mut m = mirror(&pool, &sim, settings());
    assert!(sync(&m, "webhook_endpoints").await.status.succeeded());
    // One endpoint costs two requests (failed, then the others): one endpoint a run.
    m.settings.max_requests_per_run = 2;
    let mut walked = Vec::new();
    for _ in 0..3 {
        let run = sync(&m, "webhook_deliveries").await;
        assert_eq!(run.status, Status::Succeeded, "{run}");
        assert_eq!(run.tally.requests, 2, "{run}");
        let last = last_walked(&pool).await;
        assert!(!walked.contains(&last), "{last} walked twice before the others");
        assert_eq!(mirrored(&pool, &last).await, served(&sim, &last).await);
        walked.push(last);
    }
    let mut sorted = walked.clone();
    sorted.sort();
    let mut all = endpoints.clone();
    all.sort();
    assert_eq!(sorted, all, "three runs walked the three endpoints");
    for endpoint in &endpoints {
        assert_eq!(mirrored(&pool, endpoint).await, served(&sim, endpoint).await);
    }
    // The fourth run takes the endpoint walked longest ago.
    sync(&m, "webhook_deliveries").await;
    assert_eq!(last_walked(&pool).await, walked[0]);
    sim.shutdown().await;
}

#[sqlx::test]
async fn an_endpoint_deleted_upstream_takes_its_deliveries_with_it(pool: PgPool) {
    let sim = sim_once().await;
    let endpoints = delivered(&sim, &[receiver().await, refused().await], 2).await;
    let m = mirror(&pool, &sim, settings());
    walk_both(&m).await;
    let (kept, gone) = (&endpoints[0], &endpoints[1]);
    assert_eq!(mirrored(&pool, gone).await.len(), 2);
    let url = format!("{}/webhooks/{gone}", sim.base_url());
    let deleted = reqwest::Client::new().delete(url).header("x-api-key", DEMO_KEY).send().await.unwrap();
    assert!(deleted.status().is_success());

    // Its deliveries answer 404 WEBHOOK_NOT_FOUND: the endpoint is gone, its deliveries with it.
    let run = sync(&m, "webhook_deliveries").await;
    assert_eq!(run.status, Status::Succeeded, "{run}");
    assert_eq!(run.tally.deleted, 1, "the endpoint (its deliveries go with it): {run}");
    let endpoint_deleted: bool =
        sqlx::query_scalar("SELECT deleted_at IS NOT NULL FROM tokportal.webhook_endpoints WHERE id = $1")
            .bind(gone)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(endpoint_deleted);
    assert!(mirrored(&pool, gone).await.is_empty(), "its deliveries are marked deleted");
    assert_eq!(mirrored(&pool, kept).await, served(&sim, kept).await, "the other endpoint's stay");
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_delivery_missing_from_two_complete_walks_of_its_endpoint_is_marked_deleted(pool: PgPool) {
    let sim = sim_once().await;
    let endpoints = delivered(&sim, &[receiver().await], 2).await;
    let m = mirror(&pool, &sim, settings());
    walk_both(&m).await;
    // A delivery the API no longer lists.
    sqlx::query(
        "INSERT INTO tokportal.webhook_deliveries (id, webhook_id, data, first_seen_at) \
         VALUES ('forgotten', $1, '{\"id\": \"forgotten\"}', now() - interval '1 day')",
    )
    .bind(&endpoints[0])
    .execute(&pool)
    .await
    .unwrap();
    let live = |pool: PgPool| async move {
        sqlx::query_scalar::<_, bool>(
            "SELECT deleted_at IS NULL FROM tokportal.webhook_deliveries WHERE id = 'forgotten'",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let first = sync(&m, "webhook_deliveries").await;
    assert_eq!(first.tally.deleted, 0, "{first}");
    assert!(live(pool.clone()).await, "one walk's miss proves nothing");
    let second = sync(&m, "webhook_deliveries").await;
    assert_eq!(second.tally.deleted, 1, "{second}");
    assert!(!live(pool.clone()).await, "missed by two complete walks in a row");
    assert_eq!(mirrored(&pool, &endpoints[0]).await, served(&sim, &endpoints[0]).await);
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_rebind_empties_the_deliveries_the_snapshots_and_the_rotation(pool: PgPool) {
    let sim = sim_once().await;
    delivered(&sim, &[refused().await], 2).await;
    let m = mirror(&pool, &sim, settings());
    for stream in
        ["accounts", "account_analytics", "credit_balance", "webhook_endpoints", "webhook_deliveries"]
    {
        assert!(sync(&m, stream).await.status.succeeded(), "{stream}");
    }
    let tables =
        ["webhook_deliveries", "credit_balance_snapshots", "account_analytics_snapshots", "parent_fetches"];
    let count = |table: &str| {
        let sql = format!("SELECT count(*) FROM tokportal.{table}");
        let pool = pool.clone();
        async move { sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(&pool).await.unwrap() }
    };
    for table in tables {
        assert!(count(table).await > 0, "{table} holds rows before");
    }
    tokportal_sync::mirror::account::rebind(&pool, &m.client).await.unwrap();
    for table in tables {
        assert_eq!(count(table).await, 0, "{table} is emptied");
    }
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_run_stopped_by_its_requests_mid_endpoint_resumes_at_the_endpoints_checkpoint(pool: PgPool) {
    let sim = sim_once().await;
    // 30 deliveries: two pages of 25.
    let endpoint = delivered(&sim, &[refused().await], 30).await.remove(0);
    let mut m = mirror(&pool, &sim, settings());
    sync(&m, "webhook_endpoints").await;
    m.settings.max_requests_per_run = 2;
    let checkpoint = || async {
        sqlx::query_as::<_, (Option<i32>, Option<i32>, bool)>(
            "SELECT walk_pass, walk_page, fetched_at IS NOT NULL FROM tokportal.parent_fetches \
             WHERE stream = 'webhook_deliveries' AND parent_id = $1",
        )
        .bind(&endpoint)
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let stopped = sync(&m, "webhook_deliveries").await;
    assert_eq!((stopped.status, stopped.tally.requests), (Status::Succeeded, 2), "{stopped}");
    assert!(stopped.note.as_deref().unwrap_or_default().contains("wait for the next run"), "{stopped}");
    let (pass, page, fetched) = checkpoint().await;
    assert!(pass.is_some() && page.is_some() && !fetched, "a checkpoint, not a finished walk");

    m.settings.max_requests_per_run = 100;
    let resumed = sync(&m, "webhook_deliveries").await;
    assert_eq!(resumed.status, Status::Succeeded, "{resumed}");
    assert_eq!(checkpoint().await, (None, None, true), "the walk finished: {resumed}");
    assert_eq!(mirrored(&pool, &endpoint).await, served(&sim, &endpoint).await);
    // A fresh walk of the endpoint costs more than the resumed one did.
    let full = sync(&m, "webhook_deliveries").await;
    assert!(resumed.tally.requests < full.tally.requests, "resumed {resumed}; full {full}");
    sim.shutdown().await;
}

#[sqlx::test]
async fn an_endpoint_the_mirror_confirms_deleted_takes_its_deliveries_with_it(pool: PgPool) {
    let sim = sim_once().await;
    let endpoints = delivered(&sim, &[receiver().await, refused().await, refused().await], 2).await;
    let m = mirror(&pool, &sim, settings());
    walk_both(&m).await;
    let gone = &endpoints[2];
    let url = format!("{}/webhooks/{gone}", sim.base_url());
    let deleted = reqwest::Client::new().delete(url).header("x-api-key", DEMO_KEY).send().await.unwrap();
    assert!(deleted.status().is_success());

    // The endpoints' walk misses it and GET /webhooks/{id} confirms it gone.
    let walk = sync(&m, "webhook_endpoints").await;
    assert_eq!(walk.tally.deleted, 1, "{walk}");
    assert!(mirrored(&pool, gone).await.is_empty(), "its deliveries went with it");
    let run = sync(&m, "webhook_deliveries").await;
    assert_eq!((run.status, run.tally.requests), (Status::Succeeded, 4), "only the live endpoints: {run}");
    for kept in &endpoints[..2] {
        assert_eq!(mirrored(&pool, kept).await, served(&sim, kept).await);
    }
    sim.shutdown().await;
}

#[sqlx::test]
async fn an_endpoint_whose_id_is_not_one_safe_path_segment_is_set_aside_and_never_requested(pool: PgPool) {
    let sim = sim_once().await;
    let endpoints = delivered(&sim, &[receiver().await], 1).await;
    let m = mirror(&pool, &sim, settings());
    walk_both(&m).await;
    // A row no walk would write (the list sets such ids aside): held here by hand.
    sqlx::query("INSERT INTO tokportal.webhook_endpoints (id, data) VALUES ('../credits/balance', '{}')")
        .execute(&pool)
        .await
        .unwrap();
    let run = sync(&m, "webhook_deliveries").await;
    assert_eq!(run.status, Status::SucceededWithProblems, "{run}");
    assert_eq!(run.tally.requests, 2, "the safe endpoint's two walks only: {run}");
    let code: String = sqlx::query_scalar(
        "SELECT code FROM tokportal.sync_problems WHERE stream = 'webhook_deliveries' AND subject = '../credits/balance'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(code, "UNSAFE_ID");
    assert_eq!(mirrored(&pool, &endpoints[0]).await, served(&sim, &endpoints[0]).await);
    sim.shutdown().await;
}
