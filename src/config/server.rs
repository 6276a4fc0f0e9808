//! `[server]`: where the daemon serves `/metrics` and `/healthz`, and how long
//! any long-running command may take to stop after SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// `[server]` as written in `config.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    /// Address of `/metrics` and `/healthz` in daemon mode (`IP:PORT`; port 0 picks one).
    pub listen: String,
    /// Longest a stop may take after SIGTERM or SIGINT, in seconds (under
    /// Kubernetes' default 30 s grace period).
    pub shutdown_timeout_secs: f64,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self { listen: "127.0.0.1:9464".into(), shutdown_timeout_secs: 25.0 }
    }
}

/// `[server]`, validated.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub shutdown_timeout: Duration,
}

pub(super) fn validate(
    s: &ServerSection,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<ServerConfig, ConfigError> {
    let listen = s.listen.parse::<SocketAddr>().map_err(|_| {
        invalid(
            "server.listen",
            format!("not an IP:PORT address such as \"127.0.0.1:9464\" or \"0.0.0.0:9464\": {:?}", s.listen),
        )
    })?;
    let shutdown_timeout = Some(s.shutdown_timeout_secs)
        .filter(|t| t.is_finite() && *t > 0.0 && *t <= 3600.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            invalid(
                "server.shutdown_timeout_secs",
                format!("must be a positive number of seconds up to 3600, got {}", s.shutdown_timeout_secs),
            )
        })?;
    Ok(ServerConfig { listen, shutdown_timeout })
}
