//! What booking the budget costs a walk when the budget never makes it wait:
//! the simulator with rate limiting off, a budget whose burst is never spent,
//! and `--pages` pages of 100 walked one after the other through the real
//! client, once with the in-memory store and once with the Postgres store.
//! Prints pages per second for each (BENCHMARKS.md, "Booking the budget").
//!
//! `cargo run --release --example booking -- [--pages 3000] [--bundles 10000] [--rate 100] [--burst 1000000000] [--store both|postgres|memory]`
//!
//! The default budget is a burst of a billion refilling at 100/s: the walk
//! spends tokens faster than they come back, as any walk does during a real
//! key's burst, only longer. That is when the budget books sends ahead; with
//! a refill faster than the walk (`--rate 1000000`) the bucket is always
//! full, sends booked ahead could not be made safely, and every request books
//! alone (see `Budget::plan`).
//!
//! Postgres: `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable`)
//! names a server on which the example creates, migrates and finally drops
//! a scratch database of its own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use secrecy::SecretString;
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgPoolOptions;
use tokportal_sync::api::{Budget, BudgetOptions, BudgetStore, Client, ClientOptions, MemoryStore, Walk};
use tokportal_sync::db::budgets::PgBudgetStore;
use tokportal_sync::sim::{self, DEMO_KEY, SimConfig};

const PER_PAGE: u32 = 100;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn number(name: &str, default: f64) -> anyhow::Result<f64> {
    arg(name).map_or(Ok(default), |v| v.parse().with_context(|| format!("{name} must be a number")))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let pages = number("--pages", 3000.0)? as u64;
    let bundles = number("--bundles", 10_000.0)? as usize;
    let rate = number("--rate", 100.0)?;
    let burst = number("--burst", 1e9)? as u32;
    let which = arg("--store").unwrap_or_else(|| "both".into());
    // The simulator's headers report its `burst` even with rate limiting off:
    // the same figure as the budget's, so they never correct it.
    let config = SimConfig { bundles, rate_limit: false, burst, ..SimConfig::default() };
    let server = sim::start(config).await.context("Failed to start the simulator")?;
    println!(
        "{pages} pages of {PER_PAGE} (walks of {} pages), simulator rate limit off, budget rate {rate}/s burst {burst}",
        bundles.div_ceil(PER_PAGE as usize)
    );
    let options = BudgetOptions {
        rate_per_second: rate,
        burst,
        reserved_share: 0.0,
        max_wait: Duration::from_secs(30),
    };
    let mut result = Ok(());
    if which == "both" || which == "memory" {
        let store: Arc<dyn BudgetStore> = Arc::new(MemoryStore::new());
        result = run("memory", store, &server, options, pages).await;
    }
    if result.is_ok() && (which == "both" || which == "postgres") {
        result = with_scratch_database(|store| run("postgres", store, &server, options, pages)).await;
    }
    server.shutdown().await;
    result
}

async fn run(
    name: &str,
    store: Arc<dyn BudgetStore>,
    server: &sim::SimServer,
    options: BudgetOptions,
    pages: u64,
) -> anyhow::Result<()> {
    let client_options = ClientOptions {
        base_url: server.base_url(),
        key: SecretString::from(DEMO_KEY),
        timeout: Duration::from_secs(10),
        max_retries: 0,
        max_response_bytes: 8 * 1024 * 1024,
    };
    let budget = Arc::new(Budget::new(store, format!("booking-bench-{}", std::process::id()), options));
    let client = Client::new(client_options, budget)?;
    // One walk first: connections, the store's row and the page cache warm up.
    walk(&client, 1).await?;
    let before = client.counters();
    let started = Instant::now();
    walk(&client, pages).await?;
    let secs = started.elapsed().as_secs_f64();
    let spent = client.counters().since(&before);
    println!(
        "{name:>8} store: {pages} pages in {secs:.2} s = {:.0} pages/s ({} requests, {:.3} s waited for budget, \
         {} tokens booked ahead at the end)",
        pages as f64 / secs,
        spent.requests,
        spent.budget_wait.as_secs_f64(),
        spent.booked_ahead
    );
    Ok(())
}

/// Walks `/bundles` from page 1 again and again until `pages` pages were read.
async fn walk(client: &Client, pages: u64) -> anyhow::Result<()> {
    let mut read = 0;
    while read < pages {
        let mut walk = Walk::new(client.clone(), "/bundles", Vec::new(), PER_PAGE)?;
        while read < pages && walk.next_page().await?.is_some() {
            read += 1;
        }
    }
    Ok(())
}

/// Runs `f` with a Postgres store in a scratch database, dropped afterwards.
async fn with_scratch_database<F, Fut>(f: F) -> anyhow::Result<()>
where
    F: FnOnce(Arc<dyn BudgetStore>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable".into());
    let admin = PgPoolOptions::new().max_connections(1).connect(&url).await.context("Failed to connect")?;
    let name = format!("tokportal_booking_{}", std::process::id());
    // `name` is made of letters, digits and `_` only.
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await?;
    let mut scratch_url = url::Url::parse(&url)?;
    scratch_url.set_path(&format!("/{name}"));
    let outcome = async {
        let pool = PgPoolOptions::new().max_connections(4).connect(scratch_url.as_str()).await?;
        tokportal_sync::db::MIGRATOR.run(&pool).await?;
        let store: Arc<dyn BudgetStore> = Arc::new(PgBudgetStore::new(pool.clone()).await?);
        let outcome = f(store).await;
        pool.close().await;
        outcome
    }
    .await;
    sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
        .execute(&admin)
        .await?;
    outcome
}
