//! The `worker` binary: parse the command line, load the configuration,
//! start logging, dispatch. Exit status: 0 done, 1 failed, 2 bad configuration or usage,
//! 3 the API refused the key.

use std::process::ExitCode;

use clap::error::ErrorKind;
use tokportal_sync::cli;
use tokportal_sync::config::Config;
use tokportal_sync::{commands, progress, telemetry};

fn main() -> ExitCode {
    let cli = cli::parse();
    if cli.once && cli.command.is_some() {
        cli::command()
            .error(ErrorKind::ArgumentConflict, "--once runs a whole cycle: it takes no subcommand")
            .exit();
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            tokportal_sync::errln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::set_summary_format(config.log.format);
    // Log lines go above the progress bars of a sync on a terminal.
    let _ = tracing::subscriber::set_global_default(telemetry::subscriber(
        config.log.format,
        &config.log.level,
        progress::StderrWriter,
    ));
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            tokportal_sync::errln!("error: Failed to start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Some(command) => commands::run(command, config).await,
            None if cli.once => {
                commands::once::run(cli.max_duration, &config).await.map_err(commands::name_budget_commands)
            }
            None => commands::daemon::run(&config).await.map_err(commands::name_budget_commands),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "command failed");
            ExitCode::from(commands::exit_status(&e))
        }
    }
}
