//! `worker migrate`: applies the embedded migrations (safe to repeat and to
//! run from two processes at once).

use crate::config::Config;
use crate::{db, startup};

pub async fn run(config: &Config) -> anyhow::Result<()> {
    let pool = startup::require_pool(config).await?;
    let applied = db::migrate(&pool).await?;
    tracing::info!(applied, "migrations up to date");
    Ok(())
}
