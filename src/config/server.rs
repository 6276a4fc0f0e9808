//! `[server]`: where the daemon serves `/metrics` and `/healthz`, and the
//! webhook route (on its own address when `webhook_listen` is set), and how
//! long any long-running command may take to stop after SIGTERM or SIGINT.

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
    /// Address of `POST /webhooks/tokportal` alone (`IP:PORT`); empty: the
    /// route is served on `listen` beside `/metrics` and `/healthz`.
    pub webhook_listen: String,
    /// Longest a stop may take after SIGTERM or SIGINT, in seconds (under
    /// Kubernetes' default 30 s grace period).
    pub shutdown_timeout_secs: f64,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self { listen: "127.0.0.1:9464".into(), webhook_listen: String::new(), shutdown_timeout_secs: 25.0 }
    }
}

/// `[server]`, validated.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Where the webhook route is served alone; `None`: on `listen`.
    pub webhook_listen: Option<SocketAddr>,
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
    let webhook_listen = match s.webhook_listen.trim() {
        "" => None,
        text => Some(text.parse::<SocketAddr>().map_err(|_| {
            invalid(
                "server.webhook_listen",
                format!("not an IP:PORT address such as \"0.0.0.0:8080\" (or empty): {text:?}"),
            )
        })?),
    };
    let shutdown_timeout = Some(s.shutdown_timeout_secs)
        .filter(|t| t.is_finite() && *t > 0.0 && *t <= 3600.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            invalid(
                "server.shutdown_timeout_secs",
                format!("must be a positive number of seconds up to 3600, got {}", s.shutdown_timeout_secs),
            )
        })?;
    Ok(ServerConfig { listen, webhook_listen, shutdown_timeout })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(webhook_listen: &str) -> Result<ServerConfig, String> {
        let s = ServerSection { webhook_listen: webhook_listen.into(), ..ServerSection::default() };
        validate(&s, &|key, message| ConfigError::Load { message: format!("{key}: {message}") })
            .map_err(|e| e.to_string())
    }

    #[test]
    fn webhook_listen_is_unset_when_empty_an_address_else_refused_by_name() {
        assert_eq!(check("").unwrap().webhook_listen, None);
        assert_eq!(check("0.0.0.0:8080").unwrap().webhook_listen, Some("0.0.0.0:8080".parse().unwrap()));
        let e = check("8080").unwrap_err();
        assert!(e.starts_with("server.webhook_listen: not an IP:PORT"), "{e}");
    }
}
