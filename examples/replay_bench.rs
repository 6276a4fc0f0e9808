//! Replay benchmarks (BENCHMARKS.md, "Replay"): jobs per second that
//! `jobs::drain` sends to an in-process simulator with its rate limit off, and
//! the queue's own cost per job (claim, then record) with no HTTP at all.
//! Needs `DATABASE_URL` (a server where it may create and drop a scratch database).
//!
//! cargo run --release --example replay_bench -- --jobs 2000 --concurrency 4

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tokportal_sync::config::Config;
use tokportal_sync::db::Owner;
use tokportal_sync::jobs::queue::{self, NewJob, SendRecord, Verdict};
use tokportal_sync::jobs::{Replayer, drain};
use tokportal_sync::sim::{self, SimConfig, SimKey};
use tokportal_sync::{db, startup};

const BODY: &str = r#"{"bundle_type":"account_only","platform":"tiktok","country":"US"}"#;

fn arg(name: &str, default: u32) -> u32 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn enqueue(pool: &PgPool, n: u32) -> anyhow::Result<()> {
    let job = NewJob {
        method: "POST".into(),
        path: "/bundles".into(),
        body: Some(BODY.into()),
        idempotency_key: None,
        ordering_key: None,
    };
    for _ in 0..n {
        queue::insert(pool, &job).await?;
    }
    Ok(())
}

/// Claims and records `n` jobs on `concurrency` tasks, with no request in between.
async fn queue_only(pool: &PgPool, n: u32, concurrency: u32) -> anyhow::Result<Duration> {
    enqueue(pool, n).await?;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    // One process: its tasks' claims share its owner session, as the replayer's do.
    let owner = Owner::new(pool);
    for _ in 0..concurrency {
        let (pool, owner) = (pool.clone(), owner.clone());
        tasks.spawn(async move {
            let (lease, fresh) = (Duration::from_secs(60), Duration::from_secs(82_800));
            while let Some(job) = queue::claim(&owner, lease, fresh, None).await? {
                let send = SendRecord {
                    duration_ms: 1,
                    http_status: Some(201),
                    outcome: "succeeded",
                    ..Default::default()
                };
                let verdict = Verdict::Succeeded {
                    status: 201,
                    body: Some("{}".into()),
                    replayed: false,
                    credits_charged: Some("10".into()),
                };
                queue::record(&pool, job.id, job.claim, &send, &verdict).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(started.elapsed())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (jobs, concurrency) = (arg("--jobs", 2000), arg("--concurrency", 4));
    let base = std::env::var("DATABASE_URL").context("set DATABASE_URL")?;
    let admin = PgPool::connect(&base).await?;
    let name = format!("replay_bench_{}", std::process::id());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await?;
    let mut url = url::Url::parse(&base)?;
    url.set_path(&format!("/{name}"));

    let sim = sim::start(SimConfig {
        rate_limit: false,
        keys: vec![SimKey::full(sim::DEMO_KEY, i64::from(jobs) * 10 + 100)],
        ..SimConfig::default()
    })
    .await?;
    let env: HashMap<String, String> = [
        ("DATABASE_URL", url.as_str()),
        ("TOKPORTAL_API_KEY", sim::DEMO_KEY),
        ("TOKPORTAL__API__BASE_URL", sim.base_url().as_str()),
        ("TOKPORTAL__API__RATE_PER_SECOND", "100000"),
        ("TOKPORTAL__API__BURST", "100000"),
        ("TOKPORTAL__DATABASE__MAX_CONNECTIONS", "16"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = Config::load_from(None, &env)?;
    let pool = db::connect(&config.database).await?;
    db::migrate(&pool).await?;

    let took = queue_only(&pool, jobs, concurrency).await?;
    println!(
        "queue only (claim + record, no HTTP): {jobs} jobs, {concurrency} tasks: {:.2} s, {:.0} jobs/s, {:.2} ms per job per task",
        took.as_secs_f64(),
        f64::from(jobs) / took.as_secs_f64(),
        took.as_secs_f64() * 1000.0 * f64::from(concurrency) / f64::from(jobs)
    );

    enqueue(&pool, jobs).await?;
    let client = startup::write_client(&config.api, Some(&pool)).await?;
    let settings = startup::jobs_settings(&config);
    let replayer = Replayer { owner: Owner::new(&pool), pool: pool.clone(), client, settings };
    let started = Instant::now();
    let report = drain(&replayer, concurrency, &CancellationToken::new()).await?;
    let took = started.elapsed();
    anyhow::ensure!(
        report.succeeded == u64::from(jobs),
        "only {} of {jobs} jobs succeeded",
        report.succeeded
    );
    anyhow::ensure!(
        sim.ledger().len() == jobs as usize,
        "the simulator executed {} jobs",
        sim.ledger().len()
    );
    println!(
        "replay against the simulator: {jobs} jobs, {concurrency} tasks: {:.2} s, {:.0} jobs/s",
        took.as_secs_f64(),
        f64::from(jobs) / took.as_secs_f64()
    );

    pool.close().await;
    sim.shutdown().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}"))).execute(&admin).await?;
    Ok(())
}
