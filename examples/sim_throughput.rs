//! How fast the simulator serves list pages, and how much memory its dataset
//! takes: `GET /bundles` pages of 100 items over keep-alive connections, rate
//! limiting off, pages spread over the whole dataset (not only the first ones).
//!
//! `cargo run --release --example sim_throughput -- [--bundles 1000] [--secs 10] [--connections 4] [--probe 200]
//!  [--order newest_first|created_at_unstable|id] [--filter status=published]`
//!
//! Prints the memory the process holds once the dataset is seeded (`VmRSS`,
//! `VmHWM` from `/proc/self/status`), the time per page of one client asking
//! for `--probe` pages one after the other, then the throughput of
//! `--connections` clients for `--secs` seconds. `--order` sets the list order
//! knob; `--filter` adds a query to every page (pages then spread over the
//! pages of the filtered list).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use tokportal_sync::sim::{self, DEMO_KEY, ListOrder, SimConfig};

const PER_PAGE: u64 = 100;

fn flag(name: &str, default: u64) -> anyhow::Result<u64> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        Some(i) => {
            args.get(i + 1).context("flag needs a value")?.parse().with_context(|| format!("bad {name}"))
        }
        None => Ok(default),
    }
}

fn text_flag(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

/// A `/proc/self/status` line in MB (Linux only; 0 elsewhere).
fn status_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// The `n`th page a client asks for: a stride through every page, so deep
/// pages cost what they cost.
fn page_number(n: u64, pages: u64) -> u64 {
    n.wrapping_mul(7919) % pages.max(1) + 1
}

async fn fetch(client: &reqwest::Client, base: &str, page: u64) -> anyhow::Result<usize> {
    let url = format!("{base}&page={page}&per_page={PER_PAGE}");
    let response = client.get(url).header("X-API-Key", DEMO_KEY).send().await?;
    ensure!(response.status() == 200, "status {}", response.status());
    Ok(response.bytes().await?.len())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let bundles = flag("--bundles", 1000)?;
    let secs = flag("--secs", 10)?;
    let connections = flag("--connections", 4)?;
    let probe = flag("--probe", 200)?;

    let rss_before = status_mb("VmRSS");
    let seeding = Instant::now();
    let config = SimConfig { bundles: bundles as usize, rate_limit: false, ..SimConfig::default() };
    let server = sim::start(config).await?;
    let seeded_in = seeding.elapsed().as_secs_f64();
    let (rss, hwm) = (status_mb("VmRSS"), status_mb("VmHWM"));
    println!(
        "{bundles} bundles seeded in {seeded_in:.1} s: VmRSS {rss:.0} MB, VmHWM {hwm:.0} MB ({:.2} KB a bundle above the {rss_before:.0} MB before)",
        (rss - rss_before) * 1024.0 / bundles.max(1) as f64
    );
    if let Some(order) = text_flag("--order") {
        let order: ListOrder = serde_json::from_value(order.into()).context("bad --order")?;
        server.update_faults(|f| f.order = order)?;
    }
    let api = server.base_url().to_string();
    let base = format!("{api}/bundles?{}", text_flag("--filter").unwrap_or_default());

    // One check that the pages are what we claim to measure.
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections as usize).build()?;
    let started = Instant::now();
    let page: serde_json::Value = client
        .get(format!("{base}&per_page={PER_PAGE}"))
        .header("X-API-Key", DEMO_KEY)
        .send()
        .await?
        .json()
        .await?;
    let scan = if text_flag("--filter").is_some() { ", the filtered list's one scan included" } else { "" };
    println!("first page: {:.3} ms (new connection{scan})", started.elapsed().as_secs_f64() * 1000.0);
    let total = page["pagination"]["total"].as_u64().context("a page has a total")?;
    let pages = total.div_ceil(PER_PAGE);
    let expected = total.min(PER_PAGE) as usize;
    ensure!(page["data"].as_array().map(Vec::len) == Some(expected), "a page should hold {expected} items");
    ensure!(total == bundles || text_flag("--filter").is_some(), "{total} bundles listed, not {bundles}");

    // Time per page: one client, one request at a time, nothing else running.
    let mut times = Vec::with_capacity(probe as usize);
    for n in 0..probe {
        let started = Instant::now();
        fetch(&client, &base, page_number(n, pages)).await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    if let (Some(first), Some(last)) = (times.first(), times.last()) {
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        let median = times[times.len() / 2];
        println!(
            "{mean:.3} ms a page on average over {probe} pages spread over {pages} (median {median:.3}, min {first:.3}, max {last:.3})"
        );
    }

    let requests = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|worker| {
            let (client, base) = (client.clone(), base.clone());
            let (requests, bytes) = (Arc::clone(&requests), Arc::clone(&bytes));
            tokio::spawn(async move {
                let mut n = worker;
                while Instant::now() < deadline {
                    let len = fetch(&client, &base, page_number(n, pages)).await?;
                    bytes.fetch_add(len as u64, Ordering::Relaxed);
                    requests.fetch_add(1, Ordering::Relaxed);
                    n += connections;
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
        "{per_second:.0} list requests/s ({total} requests of {PER_PAGE} items in {elapsed:.1} s over {connections} keep-alive connections, {:.1} MB/s)",
        bytes.load(Ordering::Relaxed) as f64 / elapsed / 1e6
    );
    println!("VmHWM at the end: {:.0} MB", status_mb("VmHWM"));
    server.shutdown().await;
    Ok(())
}
