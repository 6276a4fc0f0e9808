//! Builds the API client and its request budget from the configuration: the
//! one place that knows both `config` and `api` (which must not import the
//! config tree), and that picks the budget store: Postgres when a database is
//! configured, so every process of the key shares one budget, else memory.

use std::sync::Arc;

use anyhow::Context;

use crate::api::{Budget, BudgetOptions, BudgetStore, Client, ClientOptions, MemoryStore};
use crate::budget_store::PgBudgetStore;
use crate::config::{ApiConfig, Config};
use crate::{db, secret};

/// A client for the configured key, its budget shared through Postgres when
/// `DATABASE_URL` is set.
pub async fn client(config: &Config) -> anyhow::Result<Client> {
    let store: Arc<dyn BudgetStore> = match &config.database.url {
        Some(_) => {
            let pool = db::connect(&config.database).await?;
            Arc::new(PgBudgetStore::new(pool).await?)
        }
        None => {
            tracing::info!("DATABASE_URL is not set: the request budget is not shared with other processes");
            Arc::new(MemoryStore::new())
        }
    };
    client_with_store(&config.api, store)
}

pub fn client_with_store(api: &ApiConfig, store: Arc<dyn BudgetStore>) -> anyhow::Result<Client> {
    let key = api
        .key
        .clone()
        .context("no API key: set TOKPORTAL_API_KEY (or TOKPORTAL_API_KEY_FILE) to the key to use")?;
    let budget = Budget::new(store, secret::fingerprint(&key), budget_options(api));
    let options = ClientOptions {
        base_url: api.base_url.clone(),
        key,
        timeout: api.timeout,
        max_retries: api.max_retries,
    };
    Client::new(options, Arc::new(budget))
}

pub fn budget_options(api: &ApiConfig) -> BudgetOptions {
    BudgetOptions {
        rate_per_second: api.rate_per_second,
        burst: api.burst,
        reserved_share: api.reserved_share,
        max_wait: api.max_wait,
    }
}
