//! Command-line definitions (clap). Only commands that work are listed.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
}
