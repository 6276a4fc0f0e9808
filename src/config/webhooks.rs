//! `[webhooks]`: how the receiver checks deliveries and how the refresh
//! batches them; the signing secrets come from the environment only.

use std::collections::HashMap;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::{ConfigError, Origin};

/// `[webhooks]` as written in `config.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksSection {
    /// Largest distance between a signature's timestamp and now, in seconds.
    pub tolerance_secs: f64,
    /// How long a bundle's first event waits for others, in seconds, so a
    /// burst of events for one bundle costs one refresh.
    pub coalesce_secs: f64,
    /// Share of the daemon's sends kept for the walk while refreshes wait
    /// too (0 < x ≤ 1); refreshes go first within the rest.
    pub walk_share: f64,
    /// Refreshes of one event before it is given up (marked failed, its
    /// error kept): a 403 or a malformed answer does not cost budget forever.
    pub max_attempts: i64,
    /// Refreshed or given-up events older than this many days are pruned.
    pub retention_days: i64,
}

impl Default for WebhooksSection {
    fn default() -> Self {
        Self {
            tolerance_secs: 300.0,
            coalesce_secs: 0.5,
            walk_share: 0.5,
            max_attempts: 8,
            retention_days: 14,
        }
    }
}

/// `[webhooks]`, validated, with the secrets.
#[derive(Debug, Clone)]
pub struct WebhooksConfig {
    /// Every secret a delivery may be signed with (several while rotating).
    pub secrets: Vec<SecretString>,
    pub tolerance: Duration,
    pub coalesce: Duration,
    /// Share of the sends kept for the walk while refreshes wait (0 < x ≤ 1).
    pub walk_share: f64,
    /// Refreshes of one event before it is marked failed (1..=100).
    pub max_attempts: u32,
    /// How long a refreshed or given-up event is kept.
    pub retention: Duration,
}

pub(super) fn validate(
    s: &WebhooksSection,
    env: &HashMap<String, String>,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<WebhooksConfig, ConfigError> {
    let tolerance = Some(s.tolerance_secs)
        .filter(|t| t.is_finite() && *t >= 1.0 && *t <= 86_400.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            invalid(
                "webhooks.tolerance_secs",
                format!("must be between 1 and 86400 seconds, got {}", s.tolerance_secs),
            )
        })?;
    let coalesce = Some(s.coalesce_secs)
        .filter(|t| t.is_finite() && *t >= 0.0 && *t <= 60.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            invalid(
                "webhooks.coalesce_secs",
                format!("must be between 0 and 60 seconds, got {}", s.coalesce_secs),
            )
        })?;
    // 0 would let refreshes starve the walk: the point of the share is that they cannot.
    if !(s.walk_share > 0.0 && s.walk_share <= 1.0) {
        return Err(invalid(
            "webhooks.walk_share",
            format!("must be more than 0 and at most 1, got {}", s.walk_share),
        ));
    }
    let max_attempts =
        u32::try_from(s.max_attempts).ok().filter(|n| (1..=100).contains(n)).ok_or_else(|| {
            invalid("webhooks.max_attempts", format!("must be between 1 and 100, got {}", s.max_attempts))
        })?;
    let retention = u32::try_from(s.retention_days)
        .ok()
        .filter(|d| *d >= 1)
        .map(|d| Duration::from_secs(u64::from(d) * 86_400))
        .ok_or_else(|| {
            invalid(
                "webhooks.retention_days",
                format!("must be a positive number of days, got {}", s.retention_days),
            )
        })?;
    Ok(WebhooksConfig {
        secrets: secrets_from_env(env)?,
        tolerance,
        coalesce,
        walk_share: s.walk_share,
        max_attempts,
        retention,
    })
}

/// `TOKPORTAL_WEBHOOK_SECRET`, or the file `TOKPORTAL_WEBHOOK_SECRET_FILE`
/// names: one or more secrets, comma-separated (a rotation configures both).
pub fn secrets_from_env(env: &HashMap<String, String>) -> Result<Vec<SecretString>, ConfigError> {
    const VAR: &str = "TOKPORTAL_WEBHOOK_SECRET";
    const FILE_VAR: &str = "TOKPORTAL_WEBHOOK_SECRET_FILE";
    let invalid = |var: &str, message: String| ConfigError::Invalid {
        key: var.to_string(),
        origin: Origin::Env(var.to_string()),
        message,
    };
    let direct = env.get(VAR).filter(|v| !v.is_empty());
    let file = env.get(FILE_VAR).filter(|v| !v.is_empty());
    let text = match (direct, file) {
        (Some(_), Some(_)) => {
            return Err(invalid(FILE_VAR, format!("set either {VAR} or {FILE_VAR}, not both")));
        }
        (Some(v), None) => v.clone(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| invalid(FILE_VAR, format!("cannot read {path}: {e}")))?,
        (None, None) => return Ok(Vec::new()),
    };
    let secrets: Vec<SecretString> =
        text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(SecretString::from).collect();
    if secrets.is_empty() {
        let var = if direct.is_some() { VAR } else { FILE_VAR };
        return Err(invalid(var, "holds no secret".into()));
    }
    Ok(secrets)
}
