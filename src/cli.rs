//! Command-line definitions (clap). Only commands that work are listed.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "worker",
    version,
    about = "Mirror a TokPortal account into Postgres and replay mutations safely"
)]
pub struct Cli {
    /// Config file (default: ./config.toml if present). Also TOKPORTAL_CONFIG.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply the database migrations (safe to repeat, safe to run concurrently).
    Migrate,
    /// Print the effective configuration with secrets redacted; exit 2 if it is invalid.
    CheckConfig,
    /// Send one GET through the worker's client and request budget and print the JSON body;
    /// with --all-pages, walk the list and print every item as one JSON object per line.
    Get(GetArgs),
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// Path relative to api.base_url, such as /bundles or /bundles/ID (a query may follow).
    pub path: String,
    /// Walk every page of a list endpoint and print its items, one JSON object per line.
    #[arg(long)]
    pub all_pages: bool,
    /// A query parameter to add, such as --query status=published (repeatable).
    #[arg(long = "query", value_name = "K=V", value_parser = key_value)]
    pub query: Vec<(String, String)>,
}

fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}
