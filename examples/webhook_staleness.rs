//! Webhook staleness (BENCHMARKS.md, "Webhooks"): how long a change takes to
//! reach the mirror through its signed event while a full walk of `GET
//! /bundles` runs on the same key, and how many requests each event costs;
//! beside the staleness of polling alone at the default schedule.
//!
//! In one process: the simulator with the documented bucket (120 requests,
//! 2 a second), a scratch database, the receiver on 127.0.0.1:0 registered
//! with the simulator, the refresher, and a walk of every bundle page. While
//! the walk runs, one bundle every `--every-ms` is published with a new title
//! (the simulator emits `bundle.published` and delivers it, signed); the
//! mirror is polled every 5 ms for the title. Staleness is from the event's
//! `created_at` (the change) to the poll that first sees the title.
//!
//! Polling alone is modelled, not waited for (at the default schedule one
//! sample takes up to 15 minutes): a change at a uniformly random moment
//! waits for the next tick of `sync.schedule` (every 15 minutes), then for
//! the walk to reach its page, uniformly within the walk's duration measured
//! in this same run.
//!
//! Needs `DATABASE_URL` (a server where it may create and drop a scratch database).
//!
//! cargo run --release --example webhook_staleness -- --bundles 40000 --events 60 --every-ms 2000 [--no-priority]
//!
//! `--no-priority`: the refreshes queue with the walk's pages instead of going first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use secrecy::SecretString;
use serde_json::{Map, Value, json};
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokportal_sync::api::{Client, Priority};
use tokportal_sync::config::Config;
use tokportal_sync::mirror::{self, Mirror};
use tokportal_sync::sim::{self, SimConfig, SimServer};
use tokportal_sync::webhooks::{self, Receiver, Refresher, receiver};
use tokportal_sync::{db, startup};

/// The default `sync.schedule` (`0 */15 * * * *`): a walk every 15 minutes.
const SCHEDULE: Duration = Duration::from_secs(15 * 60);
const POLL: Duration = Duration::from_millis(5);

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// A small deterministic generator (splitmix64), for the model's samples.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) as f64 / u64::MAX as f64
    }
}

/// The changes made so far: (bundle id, its new title).
type Made = Arc<Mutex<Vec<(String, String)>>>;

/// Publishes `count` bundles, one every `every` on average, while `walking` is not
/// cancelled, each with a new title, recorded in `made`.
async fn publish(sim: &SimServer, count: usize, every: Duration, walking: CancellationToken, made: Made) {
    let candidates: Vec<String> = sim
        .list_items()
        .into_iter()
        .filter(|(_, item)| item.get("status").and_then(Value::as_str) != Some("published"))
        .map(|(id, _)| id)
        .collect();
    let step = (candidates.len() / count.max(1)).max(1);
    // Spaced at random around `every` (from a quarter to 1.75 times it), so
    // the changes do not keep one phase against the budget's send slots.
    let mut rng = Rng(7);
    for (n, id) in candidates.into_iter().step_by(step).take(count).enumerate() {
        tokio::time::sleep(every.mul_f64(0.25 + 1.5 * rng.unit())).await;
        if walking.is_cancelled() {
            break;
        }
        let title = format!("staleness probe {n}");
        let set = Map::from_iter([
            ("status".to_string(), json!("published")),
            ("title".to_string(), json!(title.clone())),
        ]);
        if sim.change_bundle(&id, set) {
            made.lock().unwrap().push((id, title));
        }
    }
}

/// When the mirror first showed each change of `made`, polling every
/// [`POLL`] while the changes are made, then until every one is seen (at
/// most `within` after the last).
async fn watch(
    pool: &PgPool,
    made: Made,
    publishing: CancellationToken,
    within: Duration,
) -> anyhow::Result<HashMap<String, SystemTime>> {
    let mut seen = HashMap::new();
    let mut deadline = None;
    loop {
        let wanted = made.lock().unwrap().clone();
        if publishing.is_cancelled() {
            let until = *deadline.get_or_insert_with(|| Instant::now() + within);
            if seen.len() == wanted.len() || Instant::now() > until {
                return Ok(seen);
            }
        }
        let ids: Vec<&str> =
            wanted.iter().filter(|(id, _)| !seen.contains_key(id)).map(|(id, _)| id.as_str()).collect();
        let rows: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT id, title FROM tokportal.bundles WHERE id = ANY($1)")
                .bind(&ids)
                .fetch_all(pool)
                .await?;
        let now = SystemTime::now();
        for (id, title) in rows {
            if wanted.iter().any(|(w, t)| *w == id && Some(t) == title.as_ref()) {
                seen.entry(id).or_insert(now);
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The refresher's client: the walk's, going first unless `--no-priority`.
fn refresh_side(client: &Client, config: &Config) -> Client {
    if std::env::args().any(|a| a == "--no-priority") {
        client.clone()
    } else {
        client.with_priority(Priority::Refresh { walk_share: config.webhooks.walk_share })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let bundles = arg("--bundles", 40_000) as usize;
    let events = arg("--events", 60) as usize;
    let every = Duration::from_millis(arg("--every-ms", 2000));
    let base = std::env::var("DATABASE_URL").context("set DATABASE_URL")?;
    let admin = PgPool::connect(&base).await?;
    let name = format!("webhook_staleness_{}", std::process::id());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await?;
    let mut url = url::Url::parse(&base)?;
    url.set_path(&format!("/{name}"));

    // The documented bucket, on the simulator and in the worker's budget.
    let sim = sim::start(SimConfig { bundles, ..SimConfig::default() }).await?;
    let env: HashMap<String, String> = [
        ("DATABASE_URL", url.as_str()),
        ("TOKPORTAL_API_KEY", sim::DEMO_KEY),
        ("TOKPORTAL__API__BASE_URL", sim.base_url().as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = Config::load_from(None, &env)?;
    let pool = db::connect(&config.database).await?;
    db::migrate(&pool).await?;

    // The receiver's address first, then the endpoint registered with it,
    // then the receiver with the secret the registration answered.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook = format!("http://{}{}", listener.local_addr()?, receiver::PATH);
    let secret = sim.register_webhook(sim::DEMO_KEY, &hook, &[]).context("the demo key is known")?.secret;
    let stop = CancellationToken::new();
    let wake = Arc::new(Notify::new());
    let r = Receiver {
        pool: pool.clone(),
        secrets: Arc::new(vec![SecretString::from(secret)]),
        tolerance: config.webhooks.tolerance,
        wake: wake.clone(),
    };
    let served = stop.clone();
    tokio::spawn(async move {
        axum::serve(listener, receiver::routes(r)).with_graceful_shutdown(served.cancelled_owned()).await
    });

    // One budget: the walk's client, and the refresher's clone of it that goes first.
    let client = startup::client(&config.api, Some(&pool)).await?;
    let refresher = Refresher::new(pool.clone(), refresh_side(&client, &config), config.webhooks.coalesce);
    let refreshing = tokio::spawn(webhooks::run(refresher, wake, stop.clone()));
    let m = Mirror::new(pool.clone(), client.clone(), startup::mirror_settings(&config));

    eprintln!(
        "walking {bundles} bundles at the documented budget while {events} bundles are published, one every {every:?}"
    );
    let walking = CancellationToken::new();
    let walk = {
        let (m, walking) = (m.clone(), walking.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let outcome = mirror::sync_stream_once(&m, "bundles", &CancellationToken::new()).await;
            walking.cancel();
            (outcome, started.elapsed())
        })
    };
    let made = Made::default();
    let publishing = CancellationToken::new();
    let watching = {
        let (pool, made, publishing) = (pool.clone(), made.clone(), publishing.clone());
        tokio::spawn(async move { watch(&pool, made, publishing, Duration::from_secs(120)).await })
    };
    publish(&sim, events, every, walking.clone(), made.clone()).await;
    publishing.cancel();
    let seen = watching.await??;
    let made = made.lock().unwrap().clone();
    let (outcome, walk_took) = walk.await?;
    let walk_requests = match outcome? {
        mirror::Outcome::Ran(run) => {
            anyhow::ensure!(run.complete, "the walk did not complete: {:?}", run.error);
            run.tally.pages + run.tally.rereads
        }
        mirror::Outcome::Skipped { .. } => anyhow::bail!("the walk was skipped"),
    };
    stop.cancel();
    let handled = refreshing.await?;

    let created: HashMap<String, SystemTime> = sim
        .webhook_events()
        .into_iter()
        .filter(|e| e.kind == "bundle.published")
        .filter_map(|e| Some((e.bundle_id?, e.created_at)))
        .collect();
    let mut stale: Vec<f64> = made
        .iter()
        .filter_map(|(id, _)| Some(seen.get(id)?.duration_since(*created.get(id)?).ok()?.as_secs_f64()))
        .collect();
    stale.sort_by(f64::total_cmp);
    anyhow::ensure!(!stale.is_empty(), "no change reached the mirror");
    // The refreshes' own requests, as the refresher counted them: the two
    // clients share their counters, which also hold the walk's retries.
    let refresh_requests = handled.requests;
    let limited = sim.key_stats(sim::DEMO_KEY).map_or(0, |k| k.rate_limited);

    let mut rng = Rng(42);
    let walk_secs = walk_took.as_secs_f64();
    let mut polled: Vec<f64> =
        (0..100_000).map(|_| rng.unit() * SCHEDULE.as_secs_f64() + rng.unit() * walk_secs).collect();
    polled.sort_by(f64::total_cmp);

    println!(
        "walk: {bundles} bundles, {walk_requests} requests, {walk_secs:.1} s; 429s on the key: {limited}"
    );
    println!(
        "webhooks: {} of {} changes reached the mirror; staleness p50 {:.2} s, p99 {:.2} s, max {:.2} s; \
         {refresh_requests} refresh requests, {:.2} per event",
        stale.len(),
        made.len(),
        percentile(&stale, 0.5),
        percentile(&stale, 0.99),
        stale[stale.len() - 1],
        refresh_requests as f64 / made.len().max(1) as f64
    );
    println!(
        "polling alone (model: every {} s, walk {walk_secs:.1} s): staleness p50 {:.0} s, p99 {:.0} s",
        SCHEDULE.as_secs(),
        percentile(&polled, 0.5),
        percentile(&polled, 0.99)
    );
    println!("ratio at p50: polling / webhooks = {:.0}x", percentile(&polled, 0.5) / percentile(&stale, 0.5));
    println!("refreshes: {} batches, {} events, {} failed", handled.batches, handled.events, handled.failed);

    pool.close().await;
    sim.shutdown().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)"))).execute(&admin).await?;
    // Sharing one budget means no 429: a run that got any is a failed run, not a figure.
    anyhow::ensure!(
        limited == 0,
        "the key got {limited} 429s: the walk and the refreshes overran its budget"
    );
    anyhow::ensure!(handled.failed == 0, "{} refreshes failed", handled.failed);
    Ok(())
}
