//! Waiting for a database that is not there yet: the daemon starts before
//! Postgres (or before `worker migrate`) and begins its work once both are.

use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::config::DatabaseConfig;

/// How often a daemon started before Postgres or `worker migrate` checks again.
const POLL: Duration = Duration::from_secs(1);

/// Waits until Postgres answers and every migration is applied (`/healthz`
/// says 503 meanwhile), saying once what it waits for; false when stopped first.
pub async fn wait_until_ready(cfg: &DatabaseConfig, pool: &PgPool, stop: &CancellationToken) -> bool {
    let mut said = None;
    loop {
        let waiting = match super::reachable(cfg).await {
            Err(e) => Some(("postgres", e, "waiting for Postgres; /healthz answers 503 until it is up")),
            Ok(()) => match super::ensure_migrated(pool).await {
                Ok(()) => return true,
                Err(e) => Some(("migrations", e, "waiting for the migrations (worker migrate)")),
            },
        };
        if let Some((what, e, message)) = waiting
            && said != Some(what)
        {
            tracing::warn!(error = format!("{e:#}"), "{message}");
            said = Some(what);
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = stop.cancelled() => return false,
        }
    }
}
