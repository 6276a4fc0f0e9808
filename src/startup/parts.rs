//! The parts an [`super::App`] is built from: the pool, API clients whose
//! budget is shared through that pool, and each subsystem's knobs taken out
//! of the configuration (`api` and the subsystems never import `config`).

use std::sync::Arc;

use sqlx::PgPool;

use crate::api::{Budget, BudgetOptions, BudgetStore, Client, ClientOptions, MemoryStore};
use crate::config::{ApiConfig, Config, ConfigError, Schedule};
use crate::db::budgets::PgBudgetStore;
use crate::{db, jobs, mirror, secret};

/// What a command that needs a key says without one (a configuration error: exit 2).
pub(super) fn no_key() -> anyhow::Error {
    anyhow::Error::new(ConfigError::Missing {
        key: "TOKPORTAL_API_KEY".into(),
        hint: "set it (or TOKPORTAL_API_KEY_FILE) to the key to use".into(),
    })
}

/// The pool of the process, built once here and handed to everything that
/// needs Postgres. `None` when `DATABASE_URL` is not set.
pub async fn pool(config: &Config) -> anyhow::Result<Option<PgPool>> {
    match &config.database.url {
        Some(_) => Ok(Some(db::connect(&config.database).await?)),
        None => Ok(None),
    }
}

/// The pool of the process for commands that cannot work without Postgres.
pub async fn require_pool(config: &Config) -> anyhow::Result<PgPool> {
    db::connect(&config.database).await
}

/// The pool, once every migration is applied (else the error says to run `worker migrate`).
pub async fn database(config: &Config) -> anyhow::Result<PgPool> {
    let pool = require_pool(config).await?;
    db::ensure_migrated(&pool).await?;
    Ok(pool)
}

/// A client for the configured key, its budget shared through `pool` when
/// there is one, else kept in this process's memory.
pub async fn client(api: &ApiConfig, pool: Option<&PgPool>) -> anyhow::Result<Client> {
    let store: Arc<dyn BudgetStore> = match pool {
        Some(pool) => Arc::new(PgBudgetStore::new(pool.clone()).await?),
        None => {
            tracing::info!("DATABASE_URL is not set: the request budget is not shared with other processes");
            Arc::new(MemoryStore::new())
        }
    };
    client_with_store(api, store)
}

pub fn client_with_store(api: &ApiConfig, store: Arc<dyn BudgetStore>) -> anyhow::Result<Client> {
    let key = api.key.clone().ok_or_else(no_key)?;
    let budget = Budget::new(store, secret::fingerprint(&key), budget_options(api))
        .with_probe_interval(api.probe_interval);
    let options = ClientOptions {
        base_url: api.base_url.clone(),
        key,
        timeout: api.timeout,
        max_retries: api.max_retries,
        max_response_bytes: api.max_response_bytes,
    };
    Client::new(options, Arc::new(budget))
}

/// The client mutations are sent with: `TOKPORTAL_WRITE_API_KEY` when set
/// (its own budget, keyed by its fingerprint), else the API key (sharing its budget).
pub async fn write_client(api: &ApiConfig, pool: Option<&PgPool>) -> anyhow::Result<Client> {
    match &api.write_key {
        Some(key) => client(&ApiConfig { key: Some(key.clone()), ..api.clone() }, pool).await,
        None => client(api, pool).await,
    }
}

/// The queue's knobs from `jobs.*`.
pub fn jobs_settings(config: &Config) -> jobs::Settings {
    let j = &config.jobs;
    jobs::Settings {
        key_lifetime: j.key_lifetime,
        expiry_margin: j.expiry_margin,
        lease: j.lease,
        send_timeout: j.send_timeout,
        backoff_min: j.backoff_min,
        backoff_max: j.backoff_max,
        in_progress_delay: j.in_progress_delay,
    }
}

pub fn budget_options(api: &ApiConfig) -> BudgetOptions {
    BudgetOptions {
        rate_per_second: api.rate_per_second,
        burst: api.burst,
        reserved_share: api.reserved_share,
        max_wait: api.max_wait,
    }
}

/// The mirror's knobs from `sync.*` and `api.*`.
pub fn mirror_settings(config: &Config) -> mirror::Settings {
    let s = &config.sync;
    mirror::Settings {
        per_page: config.api.per_page,
        rate_per_second: config.api.rate_per_second,
        full_walk_every: s.full_walk_every,
        since_overlap: s.since_overlap,
        children_full_refresh: s.children_full_refresh,
        children_active_refresh: s.children_active_refresh,
        run_period: run_period(&s.schedule),
        max_requests_per_run: s.max_requests_per_run,
        max_delete_checks: s.max_delete_checks,
        max_delete_fraction: s.max_delete_fraction,
        progress_every: config.log.progress_every,
    }
}

/// Time between the next two ticks of the schedule (15 minutes when it
/// has fewer than two upcoming ticks, or in continuous mode).
fn run_period(schedule: &Schedule) -> std::time::Duration {
    let Schedule::Cron(schedule) = schedule else {
        return std::time::Duration::from_secs(900);
    };
    let mut ticks = schedule.upcoming(chrono::Utc);
    match (ticks.next(), ticks.next()) {
        (Some(a), Some(b)) => (b - a).to_std().unwrap_or(std::time::Duration::from_secs(900)),
        _ => std::time::Duration::from_secs(900),
    }
}
