//! `worker sync [--stream NAME]`: walks the configured streams once (no
//! replay), each under its lock, and prints one summary line per stream and
//! one for the whole sync. Exit status 1 when a stream failed; 0 when a
//! signal stopped it at a page boundary (it resumes next run).

use tokio_util::sync::CancellationToken;

use crate::cli::SyncArgs;
use crate::config::Config;
use crate::mirror::{self, RunSummary, Status};
use crate::schedule::{self, Tick};
use crate::{db, progress, shutdown, startup, telemetry};

pub async fn run(args: SyncArgs, config: &Config) -> anyhow::Result<()> {
    let pool = startup::require_pool(config).await?;
    db::ensure_migrated(&pool).await?;
    let stop = CancellationToken::new();
    shutdown::cancel_on_signal(stop.clone());
    let client = startup::client(&config.api, Some(&pool)).await?.with_cancel(stop.clone());
    let m = mirror::Mirror::new(pool, client, startup::mirror_settings(config))
        .with_progress(std::sync::Arc::new(progress::Terminal));
    let streams: Vec<&'static str> = match &args.stream {
        Some(name) => mirror::ORDER.iter().copied().filter(|s| s == name).collect(),
        None => schedule::streams(&config.sync.streams),
    };
    let bars = progress::Bars::start(config.api.rate_per_second);
    let tick =
        shutdown::bounded(&stop, config.server.shutdown_timeout, schedule::tick_once(&m, &streams, &stop))
            .await;
    drop(bars);
    let Some(tick) = tick else {
        anyhow::bail!("stopped by a signal without finishing the request in flight; the next run resumes");
    };
    let tick = tick?;
    for run in &tick.runs {
        telemetry::summary(&run.to_string());
    }
    telemetry::summary(&format!("sync {}", tick_line(&tick)));
    tick_result(tick)
}

/// The error of the first stream that failed, if one did. An interrupted
/// stream (a signal, `--max-duration`) is not a failure: it resumes next run.
pub fn tick_result(tick: Tick) -> anyhow::Result<()> {
    let failed = tick.runs.into_iter().find(|r| r.status == Status::Failed);
    match failed {
        None => Ok(()),
        Some(RunSummary { error: Some(e), stream, .. }) => Err(e.context(format!("stream {stream} failed"))),
        Some(run) => anyhow::bail!("stream {} failed", run.stream),
    }
}

/// One line for a whole tick: each stream's status and the totals.
pub fn tick_line(tick: &Tick) -> String {
    let mut streams: Vec<String> =
        tick.runs.iter().map(|r| format!("{} {}", r.stream, r.status.as_str())).collect();
    streams.extend(tick.skipped.iter().map(|s| format!("{s} skipped (another process is walking it)")));
    streams.extend(tick.not_started.iter().map(|s| format!("{s} not started")));
    let sum = |f: fn(&RunSummary) -> u64| tick.runs.iter().map(f).sum::<u64>();
    format!(
        "{}: {} pages, {} inserted, {} updated, {} deleted, {} requests, {} answered 429",
        if streams.is_empty() { "no stream".to_string() } else { streams.join(", ") },
        sum(|r| r.tally.pages),
        sum(|r| r.tally.inserted),
        sum(|r| r.tally.updated),
        sum(|r| r.tally.deleted),
        sum(|r| r.tally.requests),
        sum(|r| r.tally.rate_limited),
    )
}
