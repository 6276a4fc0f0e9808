//! How many list requests per second the simulator serves: `GET /bundles` pages
//! of 100 items over keep-alive connections, rate limiting off.
//!
//! `cargo run --release --example sim_throughput -- [--secs 10] [--connections 4]`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use tokportal_sync::sim::{self, DEMO_KEY, SimConfig};

const PAGES: u64 = 10;

fn flag(name: &str, default: u64) -> anyhow::Result<u64> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        Some(i) => {
            args.get(i + 1).context("flag needs a value")?.parse().with_context(|| format!("bad {name}"))
        }
        None => Ok(default),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let secs = flag("--secs", 10)?;
    let connections = flag("--connections", 4)?;
    let config = SimConfig { bundles: (PAGES * 100) as usize, rate_limit: false, ..SimConfig::default() };
    let server = sim::start(config).await?;
    let base = server.base_url().to_string();

    // One check that the pages are what we claim to measure.
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections as usize).build()?;
    let page: serde_json::Value = client
        .get(format!("{base}/bundles?per_page=100"))
        .header("X-API-Key", DEMO_KEY)
        .send()
        .await?
        .json()
        .await?;
    ensure!(page["data"].as_array().map(Vec::len) == Some(100), "a page should hold 100 items");

    let requests = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|worker| {
            let (client, base) = (client.clone(), base.clone());
            let (requests, bytes) = (Arc::clone(&requests), Arc::clone(&bytes));
            tokio::spawn(async move {
                let mut page = worker % PAGES;
                while Instant::now() < deadline {
                    let url = format!("{base}/bundles?page={}&per_page=100", page + 1);
                    let response = client.get(url).header("X-API-Key", DEMO_KEY).send().await?;
                    ensure!(response.status() == 200, "status {}", response.status());
                    bytes.fetch_add(response.bytes().await?.len() as u64, Ordering::Relaxed);
                    requests.fetch_add(1, Ordering::Relaxed);
                    page = (page + 1) % PAGES;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = requests.load(Ordering::Relaxed);
    let per_second = total as f64 / elapsed;
    println!(
        "{per_second:.0} list requests/s ({total} requests of 100 items in {elapsed:.1} s over {connections} keep-alive connections, {:.1} MB/s)",
        bytes.load(Ordering::Relaxed) as f64 / elapsed / 1e6
    );
    server.shutdown().await;
    Ok(())
}
