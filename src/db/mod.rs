//! Postgres: the pool, the embedded migrations, and [`budgets`] (all SQL of
//! `tokportal.api_budgets`). The mirrored tables' SQL lives in `mirror::store`.

pub mod budgets;

use anyhow::Context;
use secrecy::ExposeSecret;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;

use crate::config::DatabaseConfig;
use crate::secret::redact_database_url;

/// The migrations in `migrations/`, compiled into the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Connects to `DATABASE_URL`. Errors show the URL with its password masked.
pub async fn connect(cfg: &DatabaseConfig) -> anyhow::Result<PgPool> {
    let url =
        cfg.url.as_ref().context("DATABASE_URL is not set: it must point at the Postgres database to use")?;
    PgPoolOptions::new()
        .max_connections(cfg.max_connections)
        .acquire_timeout(cfg.connect_timeout)
        .connect(url.expose_secret())
        .await
        .with_context(|| format!("Failed to connect to Postgres at {}", redact_database_url(url)))
}

/// Applies every pending migration. Safe to run twice or from two processes at
/// once: sqlx holds a Postgres advisory lock while it migrates.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<usize> {
    let before = applied(pool).await?;
    MIGRATOR.run(pool).await.context("Failed to apply migrations")?;
    Ok(applied(pool).await? - before)
}

async fn applied(pool: &PgPool) -> anyhow::Result<usize> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await
        .context("Failed to inspect the migrations table")?;
    if !exists {
        return Ok(0);
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(pool)
        .await
        .context("Failed to count applied migrations")?;
    Ok(n as usize)
}

/// Fails with a clear message when the migrations have not all been applied.
pub async fn ensure_migrated(pool: &PgPool) -> anyhow::Result<()> {
    let done = applied(pool).await?;
    let known = MIGRATOR.iter().count();
    anyhow::ensure!(
        done >= known,
        "the database has {done} of this worker's {known} migrations applied: run `worker migrate` first"
    );
    Ok(())
}
