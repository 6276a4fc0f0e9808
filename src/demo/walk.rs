//! `worker demo --walk-only`: the walk alone, with nothing to set up. It
//! starts the built-in simulator in-process, walks every page of `/bundles`
//! through the real client and request budget (in memory), and reports how
//! close the walk came to the fastest time the token bucket allows, and
//! whether every bundle that existed throughout the walk was delivered.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use secrecy::SecretString;

use crate::api::{MemoryStore, Walk};
use crate::cli::DemoArgs;
use crate::config::Config;
use crate::sim::{self, DEMO_KEY, SimConfig};
use crate::startup;

pub async fn run(args: &DemoArgs, bundles: usize, config: &Config) -> anyhow::Result<()> {
    let mut sim_config =
        SimConfig { bundles, rate_per_second: args.rate, burst: args.burst, ..SimConfig::default() };
    sim_config.faults.drift_every = args.drift_every;
    let server = sim::start(sim_config).await.context("Failed to start the simulator")?;
    let outcome = walk(args, config, &server).await;
    server.shutdown().await;
    outcome
}

async fn walk(args: &DemoArgs, config: &Config, server: &sim::SimServer) -> anyhow::Result<()> {
    // The configured client, pointed at the simulator with its demo key and the
    // simulator's bucket; an in-memory budget, so no database is needed.
    let mut api = config.api.clone();
    api.base_url = server.base_url();
    api.key = Some(SecretString::from(DEMO_KEY));
    api.rate_per_second = args.rate;
    api.burst = args.burst;
    let client = startup::client_with_store(&api, Arc::new(MemoryStore::new()))?;
    let per_page = api.per_page;

    let before: HashSet<String> = server.bundle_ids().into_iter().collect();
    crate::errln!(
        "simulator at {} with {} bundles, bucket of {} refilling at {}/s; walking /bundles, {} per page",
        server.base_url(),
        before.len(),
        args.burst,
        args.rate,
        per_page
    );
    let started = Instant::now();
    let mut walk = Walk::new(client.clone(), "/bundles", Vec::new(), per_page)?;
    let mut delivered = HashSet::new();
    let mut next_report = 0.0;
    while let Some(page) = walk.next_page().await? {
        delivered.extend(page.items.iter().filter_map(|item| item["id"].as_str().map(str::to_string)));
        let elapsed = started.elapsed().as_secs_f64();
        if elapsed >= next_report {
            // An empty list still answers one page: never "page 1 of 0".
            let number = u64::from(page.number);
            let pages = page.total.map_or(number, |t| t.div_ceil(u64::from(per_page)).max(number));
            crate::errln!(
                "  page {:>4} of {pages}: {:>7} bundles so far, {elapsed:5.1} s",
                page.number,
                delivered.len()
            );
            next_report = elapsed + 1.0;
        }
    }
    let wall = started.elapsed().as_secs_f64();

    let after: HashSet<String> = server.bundle_ids().into_iter().collect();
    let throughout: HashSet<&String> = before.intersection(&after).collect();
    let missing = throughout.iter().filter(|id| !delivered.contains(**id)).count();
    let spent = client.counters();
    let served_429 = server.key_stats(DEMO_KEY).map(|k| k.rate_limited).unwrap_or(0);
    let optimum = (spent.requests as f64 - f64::from(args.burst)).max(0.0) / args.rate;
    let stats = walk.stats();

    crate::outln!("bundles delivered      {}", delivered.len());
    crate::outln!("existed throughout     {} (missing from the walk: {missing})", throughout.len());
    crate::outln!(
        "pages read             {} ({} read again after the list changed)",
        stats.pages,
        stats.rereads
    );
    crate::outln!("requests               {} ({} answered 429 by the simulator)", spent.requests, served_429);
    crate::outln!("waited for budget      {:.2} s", spent.budget_wait.as_secs_f64());
    crate::outln!("wall time              {wall:.2} s");
    if optimum > 0.0 {
        crate::outln!("token-bucket optimum   {optimum:.2} s (ratio {:.3})", wall / optimum);
    } else {
        crate::outln!("token-bucket optimum   0 s (the whole walk fits in the burst)");
    }
    anyhow::ensure!(missing == 0, "{missing} bundles that existed throughout the walk were not delivered");
    Ok(())
}
