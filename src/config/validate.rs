//! Validation: the merged [`Settings`] into the typed runtime [`Config`]
//! ([`Config::load`] reads the layers, then validates them). Each
//! check names the key and where its value came from ([`ConfigError::Invalid`]);
//! `[jobs]`, `[server]` and `[webhooks]` are checked in their own files.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use secrecy::SecretString;

use super::duration::{parse_duration, positive_secs};
use super::runtime::{ApiConfig, Config, DatabaseConfig, LogConfig, LogFormat, SyncConfig};
use super::{ConfigError, Layers, Origin, Settings, env_secrets, jobs, schedule, server, webhooks};

impl Config {
    /// Loads from the process environment.
    pub fn load(flag: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_from(flag, &std::env::vars().collect())
    }

    /// Loads with an explicit environment, so tests need not touch the process's:
    /// the layers (`load.rs`), then [`validate`].
    pub fn load_from(flag: Option<&Path>, env: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let (settings, layers) = super::load::load_settings(flag, env)?;
        validate(settings, &layers, env)
    }
}

/// Streams the sync knows how to mirror (the `sync.streams` values).
pub const KNOWN_STREAMS: &[&str] = crate::mirror::streams::names();

pub(super) fn validate(
    s: Settings,
    layers: &Layers,
    env: &HashMap<String, String>,
) -> Result<Config, ConfigError> {
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
    let max_response_bytes = usize::try_from(a.max_response_bytes)
        .ok()
        .filter(|n| (65_536..=1 << 30).contains(n))
        .ok_or_else(|| {
            invalid(
                "api.max_response_bytes",
                format!(
                    "must be between 65536 (64 KiB) and 1073741824 (1 GiB), got {}",
                    a.max_response_bytes
                ),
            )
        })?;
    let pages_in_flight_memory =
        usize::try_from(a.pages_in_flight_mib).ok().filter(|m| (1..=4096).contains(m)).ok_or_else(|| {
            invalid(
                "api.pages_in_flight_mib",
                format!("must be between 1 and 4096, got {}", a.pages_in_flight_mib),
            )
        })? << 20;
    // Under a second, a blocked key would be probed about as fast as it is paced.
    let probe_interval =
        positive_secs(a.probe_interval_secs).filter(|d| *d >= Duration::from_secs(1)).ok_or_else(|| {
            invalid(
                "api.probe_interval_secs",
                format!("must be a number of seconds of at least 1, got {}", a.probe_interval_secs),
            )
        })?;

    let usable = (f64::from(burst) * (1.0 - a.reserved_share)).floor() as u32;
    let (schedule, jobs_reserve, refresh_reserve) =
        schedule::validate(&s.sync, usable.saturating_sub(1), &invalid)?;
    let walk_share = schedule::walk_share(&s.sync, &invalid)?;
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
    let since_overlap = duration("sync.since_overlap", &y.since_overlap)?;
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

    let jobs = jobs::validate(&s.jobs, timeout + max_wait, &invalid)?;
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
            max_response_bytes,
            probe_interval,
            pages_in_flight_memory,
        },
        sync: SyncConfig {
            schedule,
            jobs_reserve,
            refresh_reserve,
            walk_share,
            streams: s.sync.streams.clone(),
            full_walk_every,
            since_overlap,
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
