//! The `worker` binary: parse the command line, load the configuration,
//! start logging, dispatch. Exit status: 0 done, 1 failed, 2 bad configuration.

use std::process::ExitCode;

use clap::Parser;
use tokportal_sync::cli::{Cli, Command};
use tokportal_sync::config::Config;
use tokportal_sync::{db, demo, get, telemetry};

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
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "command failed");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::CheckConfig => {
            print!("{}", config.redacted_toml());
            Ok(())
        }
        Command::Migrate => {
            let pool = db::connect(&config.database).await?;
            let applied = db::migrate(&pool).await?;
            tracing::info!(applied, "migrations up to date");
            Ok(())
        }
        Command::Get(args) => get::run(args, &config).await,
        Command::Sim(args) => tokportal_sync::sim::command::run(args).await,
        Command::Demo(args) => demo::run(args, &config).await,
    }
}
