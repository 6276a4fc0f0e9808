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
pub mod mirror;
pub mod once;
pub mod problems;
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
        Command::Problems(args) => problems::run(args, &config).await,
        Command::Mirror(command) => mirror::run(command, &config).await,
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
pub fn name_budget_commands(error: anyhow::Error) -> anyhow::Error {
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

/// The exit status for a failed command, the one place errors become statuses:
/// 2 for a configuration error ([`crate::config::ConfigError`]: a bad or missing
/// setting, `DATABASE_URL` or the key missing where needed), a usage error
/// ([`crate::cli::UsageError`]: a flag's value refused, a file it names unreadable)
/// or a request the client refused to send ([`ApiError::Invalid`]); 3 when the
/// API refused the key; 1 for anything else (the work was not completed).
pub fn exit_status(error: &anyhow::Error) -> u8 {
    let usage = |cause: &(dyn std::error::Error + 'static)| {
        cause.is::<crate::config::ConfigError>() || cause.is::<crate::cli::UsageError>()
    };
    if error.chain().any(usage) {
        return 2;
    }
    let api = error.chain().find_map(|cause| cause.downcast_ref::<ApiError>());
    match api {
        Some(ApiError::Invalid { .. }) => 2,
        // 401, or a 403 on the key's scope: the same test replay applies (a
        // 403 such as BUNDLE_NOT_OWNED is about the request, not the key).
        Some(e) if crate::jobs::classify::classify(e) == crate::jobs::classify::Class::KeyRefused => 3,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forbidden(code: Option<&str>) -> anyhow::Error {
        anyhow::Error::new(ApiError::Fatal {
            request: "GET /bundles/b1".into(),
            status: Some(403),
            code: code.map(str::to_string),
            excerpt: String::new(),
            request_id: String::new(),
            details: None,
        })
        .context("stream bundles failed")
    }

    #[test]
    fn a_403_is_exit_3_only_when_it_is_about_the_key() {
        assert_eq!(exit_status(&forbidden(Some("AUTH_INSUFFICIENT_SCOPE"))), 3);
        assert_eq!(exit_status(&forbidden(None)), 3);
        assert_eq!(exit_status(&forbidden(Some("BUNDLE_NOT_OWNED"))), 1);
        let refused = ApiError::Unauthorized {
            request: "GET /bundles".into(),
            code: "AUTH_INVALID_KEY".into(),
            request_id: String::new(),
        };
        assert_eq!(exit_status(&anyhow::Error::new(refused)), 3);
    }

    #[test]
    fn a_rate_limited_failure_names_the_budget_commands_and_others_are_left_as_they_are() {
        let limited = anyhow::Error::new(ApiError::RateLimited {
            request: "GET /bundles".into(),
            wait: std::time::Duration::from_secs(600),
            max_wait: std::time::Duration::from_secs(300),
        })
        .context("stream bundles failed");
        let named = format!("{:#}", name_budget_commands(limited));
        assert!(named.contains("worker budget show") && named.contains("worker budget reset"), "{named}");
        let other = format!("{:#}", name_budget_commands(forbidden(Some("BUNDLE_NOT_OWNED"))));
        assert!(!other.contains("worker budget"), "{other}");
    }
}
