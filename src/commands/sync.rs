//! `worker sync [--stream NAME]`: walks the configured streams once (no
//! replay), each under its lock, and prints one summary line per stream.
//! Exit status 1 when a stream could not be walked completely.

use tokio_util::sync::CancellationToken;

use crate::cli::SyncArgs;
use crate::config::Config;
use crate::mirror::{self, Outcome, RunSummary, Status};
use crate::{db, startup};

pub async fn run(args: SyncArgs, config: &Config) -> anyhow::Result<()> {
    let pool = startup::require_pool(config).await?;
    db::ensure_migrated(&pool).await?;
    let client = startup::client(&config.api, Some(&pool)).await?;
    let m = mirror::Mirror { pool, client, settings: startup::mirror_settings(config) };
    let streams: Vec<&str> = match &args.stream {
        Some(name) => vec![name.as_str()],
        None => {
            mirror::ORDER.iter().copied().filter(|s| config.sync.streams.iter().any(|c| c == s)).collect()
        }
    };
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::warn!("interrupted: stopping after the page in flight");
            on_signal.cancel();
        }
    });
    let mut failed = Vec::new();
    for stream in streams {
        match mirror::sync_stream_once(&m, stream, &cancel).await? {
            Outcome::Skipped { stream } => eprintln!("{stream}: skipped, another process is walking it"),
            Outcome::Ran(run) => {
                eprintln!("{}", summary(&run));
                if run.status != Status::Succeeded {
                    failed.push(run);
                }
            }
        }
    }
    match failed.into_iter().next() {
        None => Ok(()),
        Some(RunSummary { error: Some(e), stream, .. }) => Err(e.context(format!("stream {stream} failed"))),
        Some(run) => anyhow::bail!("stream {} was interrupted; it resumes on the next run", run.stream),
    }
}

/// One line a person reads at the end of a run.
pub fn summary(run: &RunSummary) -> String {
    let t = &run.tally;
    let mut line = format!(
        "{}: {} ({}{}) run {}: {} pages, {} items, {} inserted, {} updated, {} unchanged, {} deleted, \
         {} requests, {} answered 429, {:.1} s waiting for budget",
        run.stream,
        run.status.as_str(),
        run.kind,
        run.resumed_from_page.map(|p| format!(" from page {p}")).unwrap_or_default(),
        run.run_id,
        t.pages,
        t.items,
        t.inserted,
        t.updated,
        t.unchanged,
        t.deleted,
        t.requests,
        t.rate_limited,
        t.budget_wait_secs,
    );
    if let Some(note) = &run.note {
        line.push_str(&format!("; {note}"));
    }
    if let Some(e) = &run.error {
        line.push_str(&format!("; error: {e:#}"));
    }
    line
}
