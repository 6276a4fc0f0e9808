//! The subcommands of `worker`, one file each: wiring only. Each takes the
//! validated configuration and returns when its work is done; `main` maps
//! the result to the exit status.

pub mod budget;
pub mod check_config;
pub mod daemon;
pub mod demo;
pub mod enqueue;
pub mod get;
pub mod jobs;
pub mod migrate;
pub mod once;
pub mod replay;
pub mod runs;
pub mod sim;
pub mod sync;
pub mod webhooks;

use crate::api::ApiError;
use crate::cli::Command;
use crate::config::Config;

/// Runs one subcommand to completion.
pub async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::CheckConfig => check_config::run(&config),
        Command::Migrate => migrate::run(&config).await,
        Command::Get(args) => get::run(args, &config).await,
        Command::Sim(args) => sim::run(args).await,
        Command::Demo(args) => demo::run(args, &config).await,
        Command::Sync(args) => sync::run(args, &config).await,
        Command::Runs(args) => runs::run(args, &config).await,
        Command::Replay => replay::run(&config).await,
        Command::Enqueue(args) => enqueue::run(args, &config).await,
        Command::Jobs(command) => jobs::run(command, &config).await,
        Command::Webhooks(command) => webhooks::run(command, &config).await,
        Command::Budget(command) => budget::run(command, &config).await,
    }
    .map_err(name_budget_commands)
}

/// A request refused because the key's shared budget is booked or blocked
/// beyond `api.max_wait_secs` says where that lives and how to clear it.
fn name_budget_commands(error: anyhow::Error) -> anyhow::Error {
    let limited =
        error.chain().any(|c| matches!(c.downcast_ref::<ApiError>(), Some(ApiError::RateLimited { .. })));
    if !limited {
        return error;
    }
    error.context(
        "the key's request budget is booked or blocked (a server's Retry-After) beyond api.max_wait_secs; \
         with DATABASE_URL it is shared in tokportal.api_budgets: see `worker budget show`, and \
         `worker budget reset [--key-fingerprint F]` once the server has recovered",
    )
}

/// The exit status for a failed command: 2 for a usage or configuration error
/// (`DATABASE_URL` missing where needed, say), 3 when the
/// API refused the key, 1 for anything else (the work was not completed).
pub fn exit_status(error: &anyhow::Error) -> u8 {
    if error.chain().any(|cause| cause.is::<crate::config::ConfigError>()) {
        return 2;
    }
    let api = error.chain().find_map(|cause| cause.downcast_ref::<ApiError>());
    match api {
        Some(ApiError::Invalid { .. }) => 2,
        Some(ApiError::Unauthorized { .. }) => 3,
        Some(ApiError::Fatal { status: Some(403), .. }) => 3,
        _ => 1,
    }
}
