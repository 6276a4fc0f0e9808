//! The settings tree as it is written in `config.toml`: plain values with
//! their built-in defaults. `validate()` in `validate.rs` turns it into runtime types.

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
    pub jobs: JobsSection,
    pub server: super::server::ServerSection,
    pub webhooks: super::webhooks::WebhooksSection,
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
    /// Largest answer read, in bytes; a larger one is an error, never held in memory.
    pub max_response_bytes: i64,
    /// While a 429 block has more than this left, one request of every
    /// process of the key probes the server this often (seconds, ≥ 1).
    pub probe_interval_secs: f64,
    /// Memory a walk's pages in flight may take, in MiB.
    pub pages_in_flight_mib: i64,
    /// Allow an `http://` base URL on a host other than loopback (the key
    /// would travel in clear text).
    pub allow_insecure: bool,
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
            max_response_bytes: 8 * 1024 * 1024,
            probe_interval_secs: 30.0,
            pages_in_flight_mib: 32,
            allow_insecure: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncSection {
    /// A cron expression, or "continuous".
    pub schedule: String,
    /// Continuous mode: tokens of the key's bucket left to jobs.
    pub jobs_reserve: i64,
    /// Continuous mode: tokens of the key's bucket left to webhook refreshes.
    pub refresh_reserve: i64,
    /// Continuous mode: share of the budget the list walks take while children wait.
    pub walk_share: f64,
    pub streams: Vec<String>,
    /// How often an append-only stream (the credit ledger) is walked to its end.
    pub full_walk_every: String,
    /// How far before the last run's start a routine `since` run reads back.
    pub since_overlap: String,
    /// Longest a bundle's children go without a refresh.
    pub children_full_refresh: String,
    /// Longest the children of a bundle in a non-terminal status go without a refresh.
    pub children_active_refresh: String,
    /// Child requests one run of a child stream may spend.
    pub max_requests_per_run: i64,
    /// Rows missing from a complete walk confirmed one by one, at most.
    pub max_delete_checks: i64,
    /// Largest share of a stream's live rows one run may mark deleted.
    pub max_delete_fraction: f64,
}

impl Default for SyncSection {
    fn default() -> Self {
        Self {
            schedule: "0 */15 * * * *".into(),
            jobs_reserve: 10,
            refresh_reserve: 10,
            walk_share: super::schedule::DEFAULT_WALK_SHARE,
            streams: crate::mirror::streams::defaults(),
            full_walk_every: "24h".into(),
            since_overlap: "10m".into(),
            children_full_refresh: "24h".into(),
            children_active_refresh: "1h".into(),
            max_requests_per_run: 600,
            max_delete_checks: 50,
            max_delete_fraction: 0.2,
        }
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
    /// Seconds between two progress lines of a walk.
    pub progress_secs: f64,
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            format: "pretty".into(),
            level: "info,sqlx=warn,sqlx::query=error".into(),
            progress_secs: 10.0,
        }
    }
}

/// The mutation queue (`worker replay`, `worker enqueue`, `worker jobs`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsSection {
    /// How long the API remembers an idempotency key (24 h per the reference).
    pub key_lifetime_secs: f64,
    /// A job whose outcome is unknown expires this long before the key would.
    pub expiry_margin_secs: f64,
    /// Finished jobs (and their attempts) older than this are pruned.
    pub retention_days: i64,
    /// How long a claim holds a job; must exceed the longest send
    /// (`api.timeout_secs` plus `api.max_wait_secs`).
    pub lease_secs: f64,
    /// Jobs sent at once by one `worker replay`.
    pub concurrency: i64,
    /// Backoff of a job after a lost connection, a timeout, 408 or 5xx: the first delay…
    pub backoff_min_secs: f64,
    /// …doubling up to this, with jitter.
    pub backoff_max_secs: f64,
    /// Wait before resending a job the API answered `IDEMPOTENCY_KEY_IN_PROGRESS`.
    pub in_progress_delay_secs: f64,
    /// The daemon's replay looks for due jobs at least this often (an insert
    /// wakes it at once through NOTIFY).
    pub poll_interval_secs: f64,
}

impl Default for JobsSection {
    fn default() -> Self {
        Self {
            key_lifetime_secs: 86_400.0,
            expiry_margin_secs: 3600.0,
            retention_days: 30,
            lease_secs: 10.0,
            concurrency: 4,
            backoff_min_secs: 1.0,
            backoff_max_secs: 3600.0,
            in_progress_delay_secs: 5.0,
            poll_interval_secs: 5.0,
        }
    }
}
