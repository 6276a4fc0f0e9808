//! The `worker` binary: parse the command line, load the configuration,
//! start logging, dispatch. Exit status: 0 done, 1 failed, 2 bad configuration or usage,
//! 3 the API refused the key.

use std::process::ExitCode;

use clap::Parser;
use tokportal_sync::cli::Cli;
use tokportal_sync::config::Config;
use tokportal_sync::{commands, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(config.log.format, &config.log.level);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: Failed to start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "command failed");
            ExitCode::from(commands::exit_status(&e))
        }
    }
}
