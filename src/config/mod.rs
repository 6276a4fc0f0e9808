//! Configuration: the settings tree (`settings.rs`), its layered loading
//! (`load.rs`) and `validate()` into the typed runtime [`Config`].

mod env_secrets;
mod load;
mod server;
mod settings;
mod webhooks;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;

pub use load::{DEFAULT_CONFIG_FILE, Layers, Origin, known_keys};
pub use server::{ServerConfig, ServerSection};
pub use settings::{ApiSection, DatabaseSection, JobsSection, LogSection, Settings, SyncSection};
pub use webhooks::{WebhooksConfig, WebhooksSection, secrets_from_env as webhook_secrets_from_env};

use crate::secret;

/// Streams the sync knows how to mirror (the `sync.streams` values).
pub const KNOWN_STREAMS: &[&str] = &["bundles", "bundle_videos", "bundle_accounts", "credit_transactions"];

/// Everything that can be wrong with the configuration. The process exits
/// with status 2 on any of these.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid value for `{key}` (from {origin}): {message}")]
    Invalid { key: String, origin: Origin, message: String },
    #[error("unknown configuration key `{key}` (from {origin})")]
    UnknownKey { key: String, origin: Origin },
    #[error("config file {} (named by {named_by}) does not exist", path.display())]
    MissingFile { path: PathBuf, named_by: &'static str },
    #[error("config file {} (named by {named_by}) is a directory: name the TOML file in it, such as {}/config.toml", path.display(), path.display())]
    NotAFile { path: PathBuf, named_by: &'static str },
    /// A setting the command needs and nobody gave (`DATABASE_URL` for `worker migrate`).
    #[error("{key} is not set: {hint}")]
    Missing { key: String, hint: String },
    #[error("{message}")]
    Load { message: String },
}

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
    /// How often a long 429 block is probed (`api.probe_interval_secs`).
    pub probe_interval: Duration,
}

#[derive(Debug, Clone)]
pub struct SyncConfig {
    pub schedule: cron::Schedule,
    pub streams: Vec<String>,
    pub full_walk_every: Duration,
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

/// The mutation queue's settings (`jobs.*`), validated.
#[derive(Debug, Clone)]
pub struct JobsConfig {
    pub key_lifetime: Duration,
    pub expiry_margin: Duration,
    pub retention: Duration,
    pub lease: Duration,
    pub concurrency: u32,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    pub in_progress_delay: Duration,
    pub poll_interval: Duration,
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
    /// Loads from the process environment.
    pub fn load(flag: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_from(flag, &std::env::vars().collect())
    }

    /// Loads with an explicit environment, so tests need not touch the process's.
    pub fn load_from(flag: Option<&Path>, env: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let (settings, layers) = load::load_settings(flag, env)?;
        validate(settings, &layers, env)
    }

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

fn validate(s: Settings, layers: &Layers, env: &HashMap<String, String>) -> Result<Config, ConfigError> {
    let invalid = |key: &str, message: String| ConfigError::Invalid {
        key: key.to_string(),
        origin: layers.origin(key),
        message,
    };
    let a = &s.api;
    let base_url = url::Url::parse(&a.base_url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
        .ok_or_else(|| invalid("api.base_url", format!("not an http(s) URL: {:?}", a.base_url)))?;
    // The key travels in a header: only over TLS, or to this machine.
    if base_url.scheme() == "http" && !a.allow_insecure && !is_loopback(&base_url) {
        return Err(invalid(
            "api.base_url",
            format!(
                "{:?} is plain http on a host other than loopback, so the API key would travel unencrypted: \
                 use https, or set api.allow_insecure = true if you mean it",
                a.base_url
            ),
        ));
    }
    if !(a.rate_per_second.is_finite() && a.rate_per_second > 0.0) {
        return Err(invalid("api.rate_per_second", format!("must be positive, got {}", a.rate_per_second)));
    }
    let burst = u32::try_from(a.burst)
        .ok()
        .filter(|b| *b >= 1)
        .ok_or_else(|| invalid("api.burst", format!("must be a positive integer, got {}", a.burst)))?;
    if !(0.0..1.0).contains(&a.reserved_share) {
        return Err(invalid("api.reserved_share", format!("must be in [0, 1), got {}", a.reserved_share)));
    }
    let per_page = u32::try_from(a.per_page)
        .ok()
        .filter(|p| (1..=100).contains(p))
        .ok_or_else(|| invalid("api.per_page", format!("must be between 1 and 100, got {}", a.per_page)))?;
    let timeout = positive_secs(a.timeout_secs).ok_or_else(|| {
        invalid("api.timeout_secs", format!("must be a positive number of seconds, got {}", a.timeout_secs))
    })?;
    let max_wait = positive_secs(a.max_wait_secs).ok_or_else(|| {
        invalid("api.max_wait_secs", format!("must be a positive number of seconds, got {}", a.max_wait_secs))
    })?;
    let max_retries = u32::try_from(a.max_retries).ok().filter(|r| *r <= 100).ok_or_else(|| {
        invalid("api.max_retries", format!("must be between 0 and 100, got {}", a.max_retries))
    })?;
    // Under a second, a blocked key would be probed about as fast as it is paced.
    let probe_interval =
        positive_secs(a.probe_interval_secs).filter(|d| *d >= Duration::from_secs(1)).ok_or_else(|| {
            invalid(
                "api.probe_interval_secs",
                format!("must be a number of seconds of at least 1, got {}", a.probe_interval_secs),
            )
        })?;

    let schedule = cron::Schedule::from_str(&s.sync.schedule).map_err(|e| {
        invalid(
            "sync.schedule",
            format!("not a cron expression (6 or 7 fields, seconds first): {:?}: {e}", s.sync.schedule),
        )
    })?;
    if s.sync.streams.is_empty() {
        return Err(invalid("sync.streams", "must name at least one stream".into()));
    }
    if let Some(bad) = s.sync.streams.iter().find(|st| !KNOWN_STREAMS.contains(&st.as_str())) {
        return Err(invalid(
            "sync.streams",
            format!("unknown stream {bad:?}; known streams: {}", KNOWN_STREAMS.join(", ")),
        ));
    }

    let y = &s.sync;
    let duration = |key: &str, text: &str| {
        parse_duration(text).ok_or_else(|| {
            invalid(key, format!("not a duration such as \"24h\", \"90m\" or \"3600s\": {text:?}"))
        })
    };
    let full_walk_every = duration("sync.full_walk_every", &y.full_walk_every)?;
    let children_full_refresh = duration("sync.children_full_refresh", &y.children_full_refresh)?;
    let children_active_refresh = duration("sync.children_active_refresh", &y.children_active_refresh)?;
    let max_requests_per_run =
        u32::try_from(y.max_requests_per_run).ok().filter(|n| *n >= 1).ok_or_else(|| {
            invalid(
                "sync.max_requests_per_run",
                format!("must be a positive integer, got {}", y.max_requests_per_run),
            )
        })?;
    let max_delete_checks = u32::try_from(y.max_delete_checks).map_err(|_| {
        invalid("sync.max_delete_checks", format!("must be 0 or more, got {}", y.max_delete_checks))
    })?;
    if !(0.0..=1.0).contains(&y.max_delete_fraction) {
        return Err(invalid(
            "sync.max_delete_fraction",
            format!("must be between 0 and 1, got {}", y.max_delete_fraction),
        ));
    }

    let max_connections = u32::try_from(s.database.max_connections)
        .ok()
        .filter(|n| (1..=1000).contains(n))
        .ok_or_else(|| {
        invalid(
            "database.max_connections",
            format!("must be between 1 and 1000, got {}", s.database.max_connections),
        )
    })?;
    let connect_timeout = positive_secs(s.database.connect_timeout_secs).ok_or_else(|| {
        invalid(
            "database.connect_timeout_secs",
            format!("must be a positive number of seconds, got {}", s.database.connect_timeout_secs),
        )
    })?;

    let format = match s.log.format.as_str() {
        "pretty" => LogFormat::Pretty,
        "json" => LogFormat::Json,
        other => return Err(invalid("log.format", format!("must be \"pretty\" or \"json\", got {other:?}"))),
    };
    tracing_subscriber::EnvFilter::try_new(&s.log.level)
        .map_err(|e| invalid("log.level", format!("not a tracing filter: {:?}: {e}", s.log.level)))?;
    let progress_every = positive_secs(s.log.progress_secs).ok_or_else(|| {
        invalid(
            "log.progress_secs",
            format!("must be a positive number of seconds, got {}", s.log.progress_secs),
        )
    })?;

    let jobs = validate_jobs(&s.jobs, timeout + max_wait, &invalid)?;
    let server = server::validate(&s.server, &invalid)?;
    let webhooks = webhooks::validate(&s.webhooks, env, &invalid)?;

    Ok(Config {
        api: ApiConfig {
            base_url,
            key: env_secrets::api_key_from_env(env)?,
            write_key: env_secrets::write_api_key_from_env(env)?,
            rate_per_second: a.rate_per_second,
            burst,
            reserved_share: a.reserved_share,
            per_page,
            timeout,
            max_wait,
            max_retries,
            probe_interval,
        },
        sync: SyncConfig {
            schedule,
            streams: s.sync.streams.clone(),
            full_walk_every,
            children_full_refresh,
            children_active_refresh,
            max_requests_per_run,
            max_delete_checks,
            max_delete_fraction: y.max_delete_fraction,
        },
        database: DatabaseConfig { url: database_url(env)?, max_connections, connect_timeout },
        log: LogConfig { format, level: s.log.level.clone(), progress_every },
        jobs,
        server,
        webhooks,
        file: layers.file.clone(),
        effective: s,
    })
}

fn validate_jobs(
    j: &JobsSection,
    longest_send: Duration,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<JobsConfig, ConfigError> {
    let secs = |key: &str, value: f64| {
        positive_secs(value)
            .ok_or_else(|| invalid(key, format!("must be a positive number of seconds, got {value}")))
    };
    let key_lifetime = secs("jobs.key_lifetime_secs", j.key_lifetime_secs)?;
    let expiry_margin = secs("jobs.expiry_margin_secs", j.expiry_margin_secs)?;
    if expiry_margin >= key_lifetime {
        return Err(invalid(
            "jobs.expiry_margin_secs",
            format!("must be less than jobs.key_lifetime_secs ({})", j.key_lifetime_secs),
        ));
    }
    let retention = u32::try_from(j.retention_days)
        .ok()
        .filter(|d| *d >= 1)
        .map(|d| Duration::from_secs(u64::from(d) * 86_400))
        .ok_or_else(|| {
            invalid(
                "jobs.retention_days",
                format!("must be a positive number of days, got {}", j.retention_days),
            )
        })?;
    let lease = secs("jobs.lease_secs", j.lease_secs)?;
    // A lease that can end while its send is still running would let a
    // second worker send the same job at the same time.
    if lease <= longest_send {
        return Err(invalid(
            "jobs.lease_secs",
            format!(
                "must exceed api.timeout_secs + api.max_wait_secs ({:.1} s), the longest a send can take, got {}",
                longest_send.as_secs_f64(),
                j.lease_secs
            ),
        ));
    }
    let concurrency =
        u32::try_from(j.concurrency).ok().filter(|c| (1..=64).contains(c)).ok_or_else(|| {
            invalid("jobs.concurrency", format!("must be between 1 and 64, got {}", j.concurrency))
        })?;
    let backoff_min = secs("jobs.backoff_min_secs", j.backoff_min_secs)?;
    let backoff_max = secs("jobs.backoff_max_secs", j.backoff_max_secs)?;
    if backoff_max < backoff_min {
        return Err(invalid("jobs.backoff_max_secs", "must not be less than jobs.backoff_min_secs".into()));
    }
    let in_progress_delay = secs("jobs.in_progress_delay_secs", j.in_progress_delay_secs)?;
    let poll_interval = secs("jobs.poll_interval_secs", j.poll_interval_secs)?;
    Ok(JobsConfig {
        key_lifetime,
        expiry_margin,
        retention,
        lease,
        concurrency,
        backoff_min,
        backoff_max,
        in_progress_delay,
        poll_interval,
    })
}

/// Whether the URL's host is this machine (`localhost`, 127.0.0.0/8, `::1`).
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `DATABASE_URL`, checked to be a Postgres URL. The value is never echoed:
/// it may hold a password.
fn database_url(env: &HashMap<String, String>) -> Result<Option<SecretString>, ConfigError> {
    let Some(value) = env.get("DATABASE_URL").filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let parsed = url::Url::parse(value).ok();
    let ok = parsed.as_ref().is_some_and(|u| matches!(u.scheme(), "postgres" | "postgresql"));
    if !ok {
        return Err(ConfigError::Invalid {
            key: "DATABASE_URL".into(),
            origin: Origin::Env("DATABASE_URL".into()),
            message: "not a Postgres URL such as postgres://user:password@host:5432/database \
                      (the value is not shown: it may hold a password)"
                .into(),
        });
    }
    Ok(Some(SecretString::from(value.as_str())))
}

/// A positive, finite number of seconds a `Duration` can hold; anything else
/// (including `1e30`, which would panic in `Duration::from_secs_f64`) is invalid.
fn positive_secs(secs: f64) -> Option<Duration> {
    (secs.is_finite() && secs > 0.0).then(|| Duration::try_from_secs_f64(secs).ok()).flatten()
}

/// A duration written as `24h`, `90m`, `3600s`, `2d` or a sum such as
/// `1h30m`; a bare number is seconds. Zero is allowed (it means "every run").
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let (mut total, mut digits) = (0u64, String::new());
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return None,
        };
        let n: u64 = std::mem::take(&mut digits).parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    (digits.is_empty() && !text.is_empty()).then_some(Duration::from_secs(total))
}
