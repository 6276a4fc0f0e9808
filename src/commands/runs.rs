//! `worker runs [--stream NAME] [--limit N] [--json]`: the recent walks of
//! each stream from `tokportal.sync_runs`, newest first: what each wrote,
//! the missing rows it left unchecked and the problems it set aside; then
//! the staleness the mirror has now (the age of the oldest list walk and of
//! the oldest children of a non-terminal bundle).

use std::io::Write;

use anyhow::Context;

use crate::cli::RunsArgs;
use crate::config::Config;
use crate::mirror::runs::{self, RunRow};
use crate::mirror::staleness::{self, Staleness};
use crate::startup;

pub async fn run(args: RunsArgs, config: &Config) -> anyhow::Result<()> {
    let pool = startup::database(config).await?;
    let rows = runs::recent(&pool, args.stream.as_deref(), args.limit).await?;
    let mut out = crate::output::Stdout;
    if args.json {
        for row in &rows {
            writeln!(out, "{}", serde_json::to_string(row).context("Failed to encode a run")?)?;
        }
        return Ok(());
    }
    writeln!(out, "{}", header())?;
    for row in &rows {
        writeln!(out, "{}", line(row))?;
    }
    let configured: Vec<&str> = config.sync.streams.iter().map(String::as_str).collect();
    let now = staleness::now(&pool, &configured, config.sync.children_full_refresh).await?;
    writeln!(out, "{}", staleness_line(&now))?;
    Ok(())
}

/// The staleness of the mirror now, in one line.
fn staleness_line(s: &Staleness) -> String {
    let walk = match s.oldest_walk() {
        None => "no list stream configured".to_string(),
        Some((stream, None)) => format!("{stream} never walked to its end"),
        Some((stream, Some(age))) => format!("{stream}, started {age:.0} s ago"),
    };
    let children = match s.oldest_active_children() {
        None => "none (no non-terminal bundle, or no child stream configured)".to_string(),
        Some((stream, age)) => format!("{stream}, fetched {age:.0} s ago"),
    };
    format!("staleness: oldest list walk: {walk}; oldest children of a non-terminal bundle: {children}")
}

fn header() -> String {
    format!(
        "{:>6} {:<20} {:<9} {:<11} {:<20} {:>7} {:>6} {:>8} {:>8} {:>8} {:>9} {:>7} {:>9} {:>8} {:>7} {:>5} {:>8}  {}",
        "id",
        "stream",
        "kind",
        "status",
        "started (UTC)",
        "secs",
        "pages",
        "items",
        "inserted",
        "updated",
        "unchanged",
        "deleted",
        "unchecked",
        "problems",
        "reqs",
        "429s",
        "resumed",
        "note / error"
    )
}

fn line(r: &RunRow) -> String {
    let secs = r.finished_at.map(|f| format!("{:.1}", (f - r.started_at).num_milliseconds() as f64 / 1000.0));
    let remark = [r.error.as_deref(), r.note.as_deref()].into_iter().flatten().collect::<Vec<_>>().join("; ");
    format!(
        "{:>6} {:<20} {:<9} {:<11} {:<20} {:>7} {:>6} {:>8} {:>8} {:>8} {:>9} {:>7} {:>9} {:>8} {:>7} {:>5} {:>8}  {}",
        r.id,
        r.stream,
        r.kind,
        r.status,
        r.started_at.format("%Y-%m-%d %H:%M:%S"),
        secs.unwrap_or_else(|| "-".into()),
        r.pages,
        r.items,
        r.inserted,
        r.updated,
        r.unchanged,
        r.deleted,
        r.delete_unchecked,
        r.problems,
        r.requests,
        r.rate_limited,
        r.resumed_from_page.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
        remark
    )
}
