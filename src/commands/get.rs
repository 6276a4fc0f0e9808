//! `worker get PATH [--all-pages] [--query K=V ...]`: the API exactly as the
//! worker sees it, through the same client and budget. The body (or one item
//! per line) goes to stdout; logs and the closing summary go to stderr.

use std::io::{BufWriter, ErrorKind, Write};
use std::time::Instant;

use anyhow::Context;

use crate::api::{Client, Walk};
use crate::cli::GetArgs;
use crate::config::Config;
use crate::startup;

pub async fn run(args: GetArgs, config: &Config) -> anyhow::Result<()> {
    crate::jobs::validate::check_path(&args.path).map_err(|e| crate::cli::usage("get", format!("{e:#}")))?;
    let pool = startup::pool(config).await?;
    let client = startup::client(&config.api, pool.as_ref()).await?;
    if args.all_pages {
        walk(&client, &args, config.api.per_page, config.api.pages_in_flight_memory).await
    } else {
        let response = client.get(&args.path, &args.query).await?;
        let text = serde_json::to_string_pretty(&response.body).context("Failed to print the response")?;
        write_out(|out| writeln!(out, "{text}"))
    }
}

async fn walk(client: &Client, args: &GetArgs, per_page: u32, in_flight: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut walk =
        Walk::new(client.clone(), &args.path, args.query.clone(), per_page)?.with_pages_in_flight(in_flight);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    while let Some(page) = walk.next_page().await? {
        let written =
            page.items.iter().try_for_each(|item| writeln!(out, "{item}")).and_then(|()| out.flush());
        match written {
            // A reader that stopped early (`| head`) is not a failure.
            Err(e) if e.kind() == ErrorKind::BrokenPipe => return Ok(()),
            other => other.context("Failed to write to stdout")?,
        }
    }
    let (stats, spent) = (walk.stats(), client.counters());
    tracing::info!(
        path = %args.path,
        pages = stats.pages,
        rereads = stats.rereads,
        items = stats.items,
        duplicates = stats.duplicates,
        requests = spent.requests,
        rate_limited = spent.rate_limited,
        retries = spent.retries,
        budget_wait_secs = spent.budget_wait.as_secs_f64(),
        elapsed_secs = started.elapsed().as_secs_f64(),
        "walk complete"
    );
    Ok(())
}

fn write_out(f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match f(&mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        other => other.context("Failed to write to stdout"),
    }
}
