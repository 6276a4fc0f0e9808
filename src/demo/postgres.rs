//! Where the demo's database comes from: `DATABASE_URL` as given; else a
//! fresh `tokportal_demo` database on a local server (127.0.0.1:5432, user
//! postgres); else a throwaway cluster started from the system's PostgreSQL
//! programs (`initdb`, `pg_ctl`) in a temporary directory, stopped and
//! removed at the end (see [`cluster`](super::cluster)).

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

use super::cluster::Cluster;
use crate::config::Config;
use crate::secret::redact_database_url;

/// The database the demo kept, by name: dropped and created again on every run.
pub const DEMO_DATABASE: &str = "tokportal_demo";

/// The server tried when `DATABASE_URL` is not set.
const LOCAL_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// An open demo database and where it lives.
pub struct Database {
    pub pool: PgPool,
    /// The URL to give `psql` afterwards, password masked; `None` for a throwaway cluster.
    pub kept_at: Option<String>,
    /// Set for a throwaway cluster: stop it with [`Database::close`].
    pub cluster: Option<Cluster>,
    pub described: String,
}

impl Database {
    /// Closes the pool, then stops and removes the throwaway cluster, if any.
    pub async fn close(self) -> anyhow::Result<()> {
        self.pool.close().await;
        match self.cluster {
            Some(cluster) => tokio::task::spawn_blocking(move || cluster.stop())
                .await
                .context("Failed to stop the throwaway cluster")?,
            None => Ok(()),
        }
    }
}

/// Opens the demo's database as the module doc says.
pub async fn open(config: &Config, throwaway: bool, pg_bin: Option<&Path>) -> anyhow::Result<Database> {
    if !throwaway {
        if let Some(url) = &config.database.url {
            let pool = crate::db::connect(&config.database).await?;
            let shown = redact_database_url(url);
            return Ok(Database {
                pool,
                kept_at: Some(shown.clone()),
                cluster: None,
                described: format!("the database DATABASE_URL names ({shown})"),
            });
        }
        match fresh_database(LOCAL_SERVER, Duration::from_secs(3)).await {
            Ok((pool, url)) => {
                return Ok(Database {
                    pool,
                    kept_at: Some(url.clone()),
                    cluster: None,
                    described: format!("a fresh database {DEMO_DATABASE} on the local server ({url})"),
                });
            }
            Err(e) => crate::errln!(
                "no PostgreSQL to use at 127.0.0.1:5432 ({e:#}); starting a throwaway cluster \
                 (set DATABASE_URL to use a server of yours)"
            ),
        }
    }
    let pg_bin = pg_bin.map(Path::to_path_buf);
    let cluster = tokio::task::spawn_blocking(move || Cluster::start(pg_bin.as_deref()))
        .await
        .context("Failed to start the throwaway cluster")??;
    let (pool, _) = match fresh_database(&cluster.url, Duration::from_secs(10)).await {
        Ok(opened) => opened,
        Err(e) => {
            let dir = cluster.dir.display().to_string();
            let _ = tokio::task::spawn_blocking(move || cluster.stop()).await;
            return Err(e.context(format!("Failed to use the throwaway cluster in {dir}")));
        }
    };
    let described = format!("a throwaway cluster in {} (removed at the end)", cluster.dir.display());
    Ok(Database { pool, kept_at: None, cluster: Some(cluster), described })
}

/// Connects to `server`, drops and creates [`DEMO_DATABASE`] there, and opens it.
async fn fresh_database(server: &str, timeout: Duration) -> anyhow::Result<(PgPool, String)> {
    let secret = SecretString::from(server);
    let options: PgConnectOptions = server.parse().context("not a Postgres URL")?;
    let mut admin = tokio::time::timeout(timeout, options.connect())
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {} s", timeout.as_secs()))?
        .context("cannot connect")?;
    // WITH (FORCE) closes sessions left open on it by an earlier run's psql.
    for sql in [
        format!("DROP DATABASE IF EXISTS {DEMO_DATABASE} WITH (FORCE)"),
        format!("CREATE DATABASE {DEMO_DATABASE}"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&mut admin)
            .await
            .with_context(|| format!("cannot run `{sql}`"))?;
    }
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .acquire_timeout(timeout)
        .connect_with(options.database(DEMO_DATABASE))
        .await
        .with_context(|| format!("cannot connect to the new database {DEMO_DATABASE}"))?;
    let mut url = url::Url::parse(secret.expose_secret()).context("not a URL")?;
    url.set_path(&format!("/{DEMO_DATABASE}"));
    Ok((pool, redact_database_url(&SecretString::from(url.as_str()))))
}
