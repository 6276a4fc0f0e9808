//! Postgres: the pool, the embedded migrations, [`ready`] (waiting for a
//! database that is not up or not migrated yet), [`owner`] (the session a
//! process's claims are tied to) and [`budgets`] (all SQL of
//! `tokportal.api_budgets`). The mirrored tables' SQL lives in the mirror
//! (`store`, `child_store`, `child_refreshes`, `runs`), the queue's in `jobs::queue`.

pub mod budgets;
pub mod owner;

pub use owner::Owner;
pub mod ready;

use std::str::FromStr;

use anyhow::Context;
use secrecy::ExposeSecret;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

use crate::config::{ConfigError, DatabaseConfig};
use crate::secret::redact_database_url;

/// The migrations in `migrations/`, compiled into the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Connects to `DATABASE_URL`. Errors show the URL with its password masked.
///
/// One connection is opened first, on its own: the pool retries a refused
/// connection until `connect_timeout`, which turns "nothing listens there"
/// into a 10 s "pool timed out". The first connection says what is wrong at once.
pub async fn connect(cfg: &DatabaseConfig) -> anyhow::Result<PgPool> {
    let (options, shown) = connect_options(cfg)?;
    first_connection(cfg, &options, &shown).await?;
    pool_options(cfg)
        .connect_with(options)
        .await
        .map_err(|e| anyhow::anyhow!("Failed to connect to Postgres at {shown}: {}", cause(&e)))
}

/// A pool that connects when first used, for the daemon, which starts (and
/// answers `/healthz` with 503) before Postgres does. Only `DATABASE_URL`
/// itself is checked here; [`reachable`] says whether Postgres answers.
pub fn connect_lazy(cfg: &DatabaseConfig) -> anyhow::Result<PgPool> {
    let (options, _) = connect_options(cfg)?;
    Ok(pool_options(cfg).connect_lazy_with(options))
}

/// Whether Postgres answers at `DATABASE_URL`, with the cause when it does not.
pub async fn reachable(cfg: &DatabaseConfig) -> anyhow::Result<()> {
    let (options, shown) = connect_options(cfg)?;
    first_connection(cfg, &options, &shown).await
}

fn pool_options(cfg: &DatabaseConfig) -> PgPoolOptions {
    PgPoolOptions::new().max_connections(cfg.max_connections).acquire_timeout(cfg.connect_timeout)
}

/// The parsed `DATABASE_URL` and how errors show it (password masked).
fn connect_options(cfg: &DatabaseConfig) -> anyhow::Result<(PgConnectOptions, String)> {
    let url = cfg.url.as_ref().ok_or_else(|| ConfigError::Missing {
        key: "DATABASE_URL".into(),
        hint: "this command needs Postgres; set it to the database to use, such as \
               postgres://postgres@127.0.0.1:5432/postgres"
            .into(),
    })?;
    let shown = redact_database_url(url);
    let options = PgConnectOptions::from_str(url.expose_secret()).map_err(|_| ConfigError::Invalid {
        key: "DATABASE_URL".into(),
        origin: crate::config::Origin::Env("DATABASE_URL".into()),
        message: "not a valid Postgres URL (the value is not shown: it may hold a password)".into(),
    })?;
    Ok((options, shown))
}

/// One connection on its own, closed at once: says why Postgres cannot be reached.
async fn first_connection(
    cfg: &DatabaseConfig,
    options: &PgConnectOptions,
    shown: &str,
) -> anyhow::Result<()> {
    let first = tokio::time::timeout(cfg.connect_timeout, PgConnection::connect_with(options)).await;
    match first {
        Err(_) => anyhow::bail!(
            "Failed to connect to Postgres at {shown}: no answer within {:.0} s (database.connect_timeout_secs)",
            cfg.connect_timeout.as_secs_f64()
        ),
        Ok(Err(e)) => Err(anyhow::anyhow!("Failed to connect to Postgres at {shown}: {}", cause(&e))),
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
    }
}

/// One sentence for a failed connection: what happened and what to do, without
/// the server's source position ("at line 948") or the same message twice.
fn cause(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused: is PostgreSQL running and listening there?".into()
        }
        sqlx::Error::Io(io) => format!("{io}"),
        sqlx::Error::Tls(tls) => format!("TLS failed: {tls}"),
        sqlx::Error::Database(db) => {
            let hint = match db.code().as_deref() {
                Some("3D000") => ": create it (createdb NAME) or fix the database name in DATABASE_URL",
                Some("28P01" | "28000") => ": check the user and password in DATABASE_URL",
                _ => "",
            };
            format!("{}{hint}", db.message())
        }
        sqlx::Error::PoolTimedOut => {
            "no connection could be opened in time (database.connect_timeout_secs)".into()
        }
        other => format!("{other}"),
    }
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

/// What `/healthz` asks: Postgres answers and every migration is applied.
/// While the pool holds no connection (Postgres not up yet, or gone), one
/// connection is opened on its own first, as [`connect`] does: the pool would
/// retry a refused connection until its acquire timeout and say only that
/// it timed out, where this says "connection refused" as the log does.
pub async fn ensure_ready(pool: &PgPool) -> anyhow::Result<()> {
    if pool.size() == 0 {
        let options = pool.connect_options();
        let conn = PgConnection::connect_with(&options)
            .await
            .map_err(|e| anyhow::anyhow!("Failed to connect to Postgres: {}", cause(&e)))?;
        let _ = conn.close().await;
    }
    ensure_migrated(pool).await
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
