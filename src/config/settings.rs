//! The settings tree as it is written in `config.toml`: plain values with
//! their built-in defaults. `validate()` in `mod.rs` turns it into runtime types.

use serde::{Deserialize, Serialize};

/// Every key `config.toml` may set. Unknown keys are rejected before this is
/// deserialised, so a typo never silently falls back to a default.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub api: ApiSection,
    pub sync: SyncSection,
    pub database: DatabaseSection,
    pub log: LogSection,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSection {
    pub base_url: String,
    /// Sustained budget of the key (the bucket's refill rate).
    pub rate_per_second: f64,
    /// Bucket capacity.
    pub burst: i64,
    /// Share of the budget left for other clients of the same key (0 ≤ x < 1).
    pub reserved_share: f64,
    pub per_page: i64,
    pub timeout_secs: f64,
    /// Longest a single request may wait for budget before it fails.
    pub max_wait_secs: f64,
    /// Retries of a GET that failed in a retryable way (5xx, 408, timeout).
    pub max_retries: i64,
}

impl Default for ApiSection {
    fn default() -> Self {
        Self {
            base_url: "https://app.tokportal.com/api/ext".into(),
            rate_per_second: 2.0,
            burst: 120,
            reserved_share: 0.0,
            per_page: 100,
            timeout_secs: 30.0,
            max_wait_secs: 300.0,
            max_retries: 5,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncSection {
    pub schedule: String,
    pub streams: Vec<String>,
}

impl Default for SyncSection {
    fn default() -> Self {
        Self { schedule: "0 */15 * * * *".into(), streams: vec!["bundles".into()] }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSection {
    pub max_connections: i64,
    pub connect_timeout_secs: f64,
}

impl Default for DatabaseSection {
    fn default() -> Self {
        Self { max_connections: 5, connect_timeout_secs: 10.0 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// `pretty` or `json`.
    pub format: String,
    /// A tracing filter; `RUST_LOG` overrides it.
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        Self { format: "pretty".into(), level: "info,sqlx=warn".into() }
    }
}
