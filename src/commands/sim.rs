//! `worker sim`: start the simulator from command-line flags, print its API base
//! URL as the first stdout line, and run until SIGINT or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;

use crate::cli::SimArgs;
use crate::sim::{Faults, SimConfig, SimKey, start};

/// The simulator's configuration from the flags; a bad flag is a usage
/// error (exit 2) naming it.
pub fn config_from(args: &SimArgs) -> anyhow::Result<SimConfig> {
    let mut config = SimConfig {
        bind: SocketAddr::new(args.bind, args.port),
        bundles: args.bundles,
        accounts: args.accounts,
        seed: args.seed,
        rate_per_second: args.rate,
        burst: args.burst,
        rate_limit: !args.no_rate_limit,
        idempotency_ttl: Duration::from_secs(args.idempotency_ttl_secs),
        ..SimConfig::default()
    };
    if !args.keys.is_empty() {
        config.keys = args
            .keys
            .iter()
            .map(|k| k.parse::<SimKey>())
            .collect::<Result<_, _>>()
            .map_err(|e| usage(format!("invalid --keys: {e}")))?;
    }
    if let Some(faults) = &args.faults {
        config.faults = serde_json::from_str::<Faults>(faults)
            .map_err(|e| usage(format!("invalid --faults JSON: {e}")))?;
    }
    if let Some(ms) = args.latency_ms {
        config.faults.latency_ms = ms;
    }
    if let Some(ms) = args.latency_jitter_ms {
        config.faults.latency_jitter_ms = ms;
    }
    config.validate().map_err(|e| usage(format!("{e:#}")))?;
    Ok(config)
}

/// What `exit_status` maps to 2: the flags, not the simulator, are wrong.
fn usage(message: String) -> anyhow::Error {
    crate::cli::usage("sim", message)
}

pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    let config = config_from(&args)?;
    let server = start(config).await?;
    {
        let mut out = crate::output::Stdout;
        writeln!(out, "{}", server.base_url()).context("Failed to write to stdout")?;
        out.flush().context("Failed to flush stdout")?;
    }
    // Only the base URL goes to stdout: a script may close the pipe after reading it.
    tracing::info!(admin = %server.admin_url(), "simulator ready");
    for key in server.stats().keys {
        tracing::info!(key.fingerprint = %key.fingerprint, key.read_only = key.read_only, credits = key.credits, "simulator key");
    }
    wait_for_signal().await?;
    tracing::info!("simulator stopping");
    server.shutdown().await;
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("Failed to listen for SIGTERM")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("Failed to listen for SIGINT")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await.context("Failed to listen for Ctrl-C")?;
    Ok(())
}
