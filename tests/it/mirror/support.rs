//! A simulator, a migrated database and a mirror wired to both, and the
//! comparison of the mirrored tables with the simulator's own dataset.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tokportal_sync::mirror::{self, Mirror, Outcome, RunSummary, Settings};
use tokportal_sync::sim::{self, SimConfig, SimServer};

use crate::api_support::demo_client;

pub fn settings() -> Settings {
    Settings {
        per_page: 25,
        rate_per_second: 2.0,
        full_walk_every: Duration::from_secs(86_400),
        since_overlap: Duration::from_secs(600),
        children_full_refresh: Duration::from_secs(86_400),
        children_active_refresh: Duration::from_secs(3600),
        run_period: Duration::from_secs(900),
        max_requests_per_run: 10_000,
        max_delete_checks: 50,
        max_delete_fraction: 0.2,
        progress_every: Duration::from_secs(10),
    }
}

/// A simulator without rate limiting (the budget is tested elsewhere).
pub async fn sim(bundles: usize) -> SimServer {
    sim::start(SimConfig { bundles, rate_limit: false, ..SimConfig::default() })
        .await
        .expect("the simulator starts")
}

pub fn mirror(pool: &PgPool, sim: &SimServer, settings: Settings) -> Mirror {
    Mirror::new(pool.clone(), demo_client(sim, 10_000.0, 10_000), settings)
}

/// Runs one stream; panics if another process held its lock.
pub async fn sync(m: &Mirror, stream: &str) -> RunSummary {
    match mirror::sync_stream_once(m, stream, &CancellationToken::new()).await.expect("the run is recorded") {
        Outcome::Ran(run) => run,
        Outcome::Skipped { stream } => panic!("{stream} was skipped"),
    }
}

pub async fn sync_all(m: &Mirror) -> Vec<RunSummary> {
    let mut runs = Vec::new();
    for stream in ["bundles", "bundle_videos", "bundle_accounts"] {
        runs.push(sync(m, stream).await);
    }
    runs
}

/// The simulator's bundles as `GET /bundles` lists them, with their
/// account and slots as the child endpoints serve them.
pub struct Expected {
    pub bundles: BTreeMap<String, Value>,
    pub accounts: BTreeMap<String, Value>,
    pub videos: BTreeMap<(String, i32), Value>,
}

pub fn expected(sim: &SimServer) -> Expected {
    let dataset = sim.dataset();
    let mut e = Expected { bundles: BTreeMap::new(), accounts: BTreeMap::new(), videos: BTreeMap::new() };
    for detail in dataset["bundles"].as_array().expect("a list of bundles") {
        let mut item = detail.as_object().expect("a bundle object").clone();
        let account = item.remove("account").expect("an embedded account");
        let videos = item.remove("videos").expect("embedded slots");
        let id = item["id"].as_str().expect("an id").to_string();
        for slot in videos.as_array().expect("a list of slots") {
            e.videos
                .insert((id.clone(), slot["position"].as_i64().expect("a position") as i32), slot.clone());
        }
        e.accounts.insert(id.clone(), account);
        e.bundles.insert(id, Value::Object(item));
    }
    e
}

pub async fn live_bundles(pool: &PgPool) -> BTreeMap<String, Value> {
    let rows: Vec<(String, Value)> =
        sqlx::query_as("SELECT id, data FROM tokportal.bundles WHERE deleted_at IS NULL")
            .fetch_all(pool)
            .await
            .unwrap();
    rows.into_iter().collect()
}

/// Asserts the live rows of the three bundle tables equal the simulator's dataset.
pub async fn assert_mirror_equals(pool: &PgPool, sim: &SimServer) {
    let e = expected(sim);
    let bundles = live_bundles(pool).await;
    assert_eq!(bundles.len(), e.bundles.len(), "live bundles");
    for (id, item) in &e.bundles {
        assert_eq!(bundles.get(id), Some(item), "bundle {id}");
    }
    let accounts: BTreeMap<String, Value> = sqlx::query_as::<_, (String, Value)>(
        "SELECT bundle_id, data FROM tokportal.bundle_accounts WHERE deleted_at IS NULL",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    assert_eq!(accounts, e.accounts, "accounts");
    let videos: BTreeMap<(String, i32), Value> = sqlx::query_as::<_, (String, i32, Value)>(
        "SELECT bundle_id, position, data FROM tokportal.bundle_videos WHERE deleted_at IS NULL",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|(b, p, d)| ((b, p), d))
    .collect();
    assert_eq!(videos.len(), e.videos.len(), "video slots");
    assert_eq!(videos, e.videos, "video slots");
}

/// Waits (up to 10 s) until the running walk has committed page `page`:
/// a proxy's hook uses it to answer a page only once the pages before it
/// are written, which nothing else orders.
pub async fn until_committed(db: &PgPool, page: i32) {
    for _ in 0..2000 {
        let committed: Option<i32> =
            sqlx::query_scalar("SELECT max(last_page) FROM tokportal.sync_runs WHERE status = 'running'")
                .fetch_one(db)
                .await
                .unwrap();
        if committed >= Some(page) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// A mirror whose client goes through a proxy in front of the simulator:
/// `hook(query)` runs before each `/bundles` list request is forwarded, and
/// an answer it returns is sent instead (status 200).
pub async fn proxied<F, Fut>(pool: &PgPool, sim: &SimServer, hook: F) -> Mirror
where
    F: Fn(String) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Option<String>> + Send,
{
    let upstream = sim.base_url();
    let http = reqwest::Client::new();
    let app = axum::Router::new().route(
        "/{*path}",
        axum::routing::get(move |uri: axum::http::Uri, headers: axum::http::HeaderMap| {
            let (upstream, http, hook) = (upstream.clone(), http.clone(), hook.clone());
            async move {
                if uri.path().ends_with("/bundles")
                    && let Some(body) = hook(uri.query().unwrap_or_default().to_string()).await
                {
                    return (axum::http::StatusCode::OK, body);
                }
                let url = format!("{}{}", upstream.as_str().trim_end_matches('/'), uri);
                let key = headers.get("x-api-key").cloned().unwrap();
                let answer = http.get(url).header("x-api-key", key).send().await.unwrap();
                (answer.status(), answer.text().await.unwrap())
            }
        }),
    );
    let (mut options, _server) = crate::api_support::scripted(app).await;
    options.key = secrecy::SecretString::from(tokportal_sync::sim::DEMO_KEY);
    let client = crate::api_support::client(options, crate::api_support::budget_options(10_000.0, 10_000));
    Mirror::new(pool.clone(), client, settings())
}

/// Answers the proxy gives instead of the simulator's, by path (query left
/// out), and every path and query it was asked for.
#[derive(Default)]
pub struct Proxy {
    pub answers: HashMap<String, (u16, String)>,
    pub asked: Vec<String>,
}

pub type Script = Arc<Mutex<Proxy>>;

/// A mirror whose client goes through a proxy in front of the simulator:
/// a path in `script` gets its scripted answer; `edit` may rewrite a list
/// page (its path, query and body) before it is sent.
pub async fn proxy(
    pool: &PgPool,
    sim: &SimServer,
    script: Script,
    edit: fn(&str, &str, Value) -> Value,
) -> (Mirror, tokio::task::JoinHandle<std::io::Result<()>>) {
    let upstream = sim.base_url();
    let http = reqwest::Client::new();
    let app = axum::Router::new().route(
        "/{*path}",
        axum::routing::get(move |uri: axum::http::Uri| {
            let (upstream, http, script) = (upstream.clone(), http.clone(), script.clone());
            async move {
                let scripted = {
                    let mut proxy = script.lock().unwrap();
                    proxy.asked.push(uri.to_string());
                    proxy.answers.get(uri.path()).cloned()
                };
                if let Some((status, body)) = scripted {
                    return (axum::http::StatusCode::from_u16(status).unwrap(), body);
                }
                let url = format!("{}{}", upstream.as_str().trim_end_matches('/'), uri);
                let answer =
                    http.get(url).header("x-api-key", tokportal_sync::sim::DEMO_KEY).send().await.unwrap();
                let status = answer.status();
                let body: Value = answer.json().await.unwrap();
                let body = edit(uri.path(), uri.query().unwrap_or_default(), body);
                (status, body.to_string())
            }
        }),
    );
    let (mut options, server) = crate::api_support::scripted(app).await;
    options.max_retries = 0;
    let client = crate::api_support::client(options, crate::api_support::budget_options(10_000.0, 10_000));
    (Mirror::new(pool.clone(), client, settings()), server)
}

/// The `edit` of a proxy that changes nothing.
pub fn unchanged(_: &str, _: &str, body: Value) -> Value {
    body
}

/// Each run's kind, status, the page it resumed from and its last committed page, oldest first.
pub async fn checkpoints(pool: &PgPool) -> Vec<(String, String, Option<i32>, i32)> {
    sqlx::query_as("SELECT kind, status, resumed_from_page, last_page FROM tokportal.sync_runs ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
}
