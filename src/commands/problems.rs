//! `worker problems [--stream NAME] [--limit N] [--json]`: what the walks
//! set aside instead of stopping (`tokportal.sync_problems`), most recently
//! seen first.

use std::io::Write;

use anyhow::Context;

use crate::cli::RunsArgs;
use crate::config::Config;
use crate::mirror::problems;
use crate::startup;

pub async fn run(args: RunsArgs, config: &Config) -> anyhow::Result<()> {
    let pool = startup::database(config).await?;
    let rows = problems::recent(&pool, args.stream.as_deref(), args.limit).await?;
    let mut out = crate::output::Stdout;
    if args.json {
        for row in &rows {
            writeln!(out, "{}", serde_json::to_string(row).context("Failed to encode a problem")?)?;
        }
        return Ok(());
    }
    if rows.is_empty() {
        writeln!(out, "no problems: every item and bundle was mirrored")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<16} {:<40} {:<18} {:>8} {:<20} {:<20} {:<20}  excerpt",
        "stream", "subject", "code", "attempts", "first seen (UTC)", "last seen (UTC)", "next attempt (UTC)"
    )?;
    let at = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S").to_string();
    for p in &rows {
        writeln!(
            out,
            "{:<16} {:<40} {:<18} {:>8} {:<20} {:<20} {:<20}  {}",
            p.stream,
            p.subject,
            p.code,
            p.attempts,
            at(p.first_seen_at),
            at(p.last_seen_at),
            at(p.next_attempt_at),
            p.excerpt.replace('\n', " ")
        )?;
    }
    Ok(())
}
