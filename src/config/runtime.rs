//! The typed configuration the rest of the program runs on ([`Config`] and
//! its sections) and how `check-config` prints it back.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use super::{JobsConfig, Schedule, ServerConfig, Settings, WebhooksConfig};
use crate::secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub base_url: url::Url,
    pub key: Option<SecretString>,
    /// `TOKPORTAL_WRITE_API_KEY[_FILE]`: the key mutations use, with its own
    /// budget; `None` means mutations use `key`.
    pub write_key: Option<SecretString>,
    pub rate_per_second: f64,
    pub burst: u32,
    pub reserved_share: f64,
    pub per_page: u32,
    pub timeout: Duration,
    pub max_wait: Duration,
    pub max_retries: u32,
    /// Largest answer read (`api.max_response_bytes`).
    pub max_response_bytes: usize,
    /// How often a long 429 block is probed (`api.probe_interval_secs`).
    pub probe_interval: Duration,
    /// Memory a walk's pages in flight may take, in bytes (`api.pages_in_flight_mib`).
    pub pages_in_flight_memory: usize,
}

#[derive(Debug, Clone)]
pub struct SyncConfig {
    pub schedule: Schedule,
    /// Tokens of the key's bucket continuous work leaves to jobs.
    pub jobs_reserve: u32,
    /// Tokens of the key's bucket continuous work leaves to webhook refreshes.
    pub refresh_reserve: u32,
    /// Continuous mode: share of the budget the list walks take while children wait.
    pub walk_share: f64,
    pub streams: Vec<String>,
    pub full_walk_every: Duration,
    pub since_overlap: Duration,
    pub children_full_refresh: Duration,
    pub children_active_refresh: Duration,
    pub max_requests_per_run: u32,
    pub max_delete_checks: u32,
    pub max_delete_fraction: f64,
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: Option<SecretString>,
    pub max_connections: u32,
    pub connect_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
    /// Time between two progress lines of a walk (`log.progress_secs`).
    pub progress_every: Duration,
}

/// The validated, typed configuration the rest of the program runs on.
#[derive(Debug, Clone)]
pub struct Config {
    pub api: ApiConfig,
    pub sync: SyncConfig,
    pub database: DatabaseConfig,
    pub log: LogConfig,
    pub jobs: JobsConfig,
    pub server: ServerConfig,
    pub webhooks: WebhooksConfig,
    /// The merged settings, kept to print them back (`check-config`).
    pub effective: Settings,
    pub file: Option<PathBuf>,
}

impl Config {
    /// The effective configuration as TOML, secrets shown only as fingerprints.
    pub fn redacted_toml(&self) -> String {
        let mut out = String::new();
        match &self.file {
            Some(path) => out.push_str(&format!("# config file: {}\n", path.display())),
            None => out.push_str("# config file: none (built-in defaults and environment)\n"),
        }
        out.push_str(&format!(
            "# API key: {}\n",
            self.api
                .key
                .as_ref()
                .map(|k| format!("set (fingerprint {})", secret::fingerprint(k)))
                .unwrap_or_else(|| "not set (TOKPORTAL_API_KEY or TOKPORTAL_API_KEY_FILE)".into())
        ));
        out.push_str(&format!(
            "# write API key: {}\n",
            self.api
                .write_key
                .as_ref()
                .map(|k| format!("set (fingerprint {})", secret::fingerprint(k)))
                .unwrap_or_else(
                    || "not set: mutations use the API key (TOKPORTAL_WRITE_API_KEY[_FILE])".into()
                )
        ));
        out.push_str(&format!(
            "# database: {}\n\n",
            self.database
                .url
                .as_ref()
                .map(secret::redact_database_url)
                .unwrap_or_else(|| "not set (DATABASE_URL)".into())
        ));
        out.push_str(&toml::to_string(&self.effective).expect("Settings serialises to TOML"));
        out
    }
}
