//! A simulator, a replayer pointed at it, and shortcuts to enqueue and inspect jobs.

use std::time::Duration;

use serde_json::Value;
use sqlx::PgPool;
pub use tokportal_sync::db::Owner;
use tokportal_sync::jobs::queue::{self, Job, NewJob};
use tokportal_sync::jobs::{Outcome, Replayer, Settings, run_next_job};
use tokportal_sync::sim::{self, SimConfig, SimKey, SimServer};

use crate::api_support::{budget_options, client, client_options};
use crate::helpers::{database_url, worker};

pub fn settings() -> Settings {
    Settings {
        key_lifetime: Duration::from_secs(86_400),
        expiry_margin: Duration::from_secs(3600),
        lease: Duration::from_secs(60),
        send_timeout: Duration::from_secs(60),
        backoff_min: Duration::from_secs(1),
        backoff_max: Duration::from_secs(3600),
        in_progress_delay: Duration::from_secs(5),
    }
}

/// A simulator without rate limiting, with the demo key and these others.
pub async fn sim_with_keys(keys: Vec<SimKey>) -> SimServer {
    let mut all = vec![SimKey::full(sim::DEMO_KEY, 1_000_000)];
    all.extend(keys);
    sim::start(SimConfig { bundles: 20, rate_limit: false, keys: all, ..SimConfig::default() })
        .await
        .expect("the simulator starts")
}

pub async fn sim() -> SimServer {
    sim_with_keys(Vec::new()).await
}

/// A replayer sending with `key`, its client timing out after `timeout`.
pub fn replayer_with(pool: &PgPool, sim: &SimServer, key: &str, timeout: Duration) -> Replayer {
    let mut options = client_options(sim, key);
    options.timeout = timeout;
    Replayer {
        pool: pool.clone(),
        client: client(options, budget_options(10_000.0, 10_000)),
        settings: settings(),
        owner: Owner::new(pool),
    }
}

pub fn replayer(pool: &PgPool, sim: &SimServer) -> Replayer {
    replayer_with(pool, sim, sim::DEMO_KEY, Duration::from_secs(5))
}

pub fn new_job(method: &str, path: &str, body: Option<&str>) -> NewJob {
    NewJob {
        method: method.into(),
        path: path.into(),
        body: body.map(str::to_string),
        idempotency_key: None,
        ordering_key: None,
    }
}

pub async fn enqueue(pool: &PgPool, method: &str, path: &str, body: Option<&str>) -> Job {
    queue::insert(pool, &new_job(method, path, body)).await.expect("the job is inserted")
}

pub const ACCOUNT_ONLY: &str = r#"{"bundle_type":"account_only","platform":"tiktok","country":"US"}"#;

pub async fn job(pool: &PgPool, id: i64) -> Job {
    queue::get(pool, id).await.unwrap().expect("the job exists")
}

/// Runs one step; panics when no job was due.
pub async fn step(r: &Replayer) -> Outcome {
    run_next_job(r).await.expect("the step runs").expect("a job was due")
}

/// Makes a job waiting for its backoff due now (instead of waiting for it).
pub async fn make_due(pool: &PgPool, id: i64) {
    sqlx::query("UPDATE tokportal.mutation_jobs SET run_after = now() WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
}

/// Ledger entries (executions) carrying this idempotency key.
pub fn executions(sim: &SimServer, key: &str) -> usize {
    sim.ledger().iter().filter(|e| e.idempotency_key.as_deref() == Some(key)).count()
}

pub fn body(job: &Job) -> Value {
    serde_json::from_str(job.response_body.as_deref().expect("a response body")).expect("JSON")
}

/// (outcome, http status, replayed) of each attempt, in order.
pub async fn attempts(pool: &PgPool, id: i64) -> Vec<(Option<String>, Option<i32>, Option<bool>)> {
    queue::attempts(pool, id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.outcome, a.http_status, a.replayed))
        .collect()
}

/// Seconds from now until the job is due.
pub async fn due_in_secs(pool: &PgPool, id: i64) -> f64 {
    sqlx::query_scalar(
        "SELECT extract(epoch FROM run_after - now())::float8 FROM tokportal.mutation_jobs WHERE id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Runs `worker ARGS` against `sim` and the test's database.
pub async fn cli(pool: &PgPool, sim: &SimServer, args: &[&str]) -> std::process::Output {
    let url = database_url(pool).await;
    let base = sim.base_url().to_string();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        worker(
            dir.path(),
            &args,
            &[
                ("DATABASE_URL", url.as_str()),
                ("TOKPORTAL_API_KEY", sim::DEMO_KEY),
                ("TOKPORTAL__API__BASE_URL", base.as_str()),
            ],
        )
    })
    .await
    .unwrap()
}
