//! One walk per stream across every process on the database: a Postgres
//! session-level advisory lock, held on a connection of its own for the
//! whole walk. A process that dies loses its session and so its lock.

use anyhow::Context;
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};

/// The lock's key: `hashtext` of this prefix and the stream name, so it
/// cannot meet the advisory locks of sqlx's migrator or an application's.
const PREFIX: &str = "tokportal-sync/stream/";

pub struct StreamLock {
    conn: Option<PoolConnection<Postgres>>,
    stream: String,
}

/// Takes the stream's lock, or `None` when another session holds it.
pub async fn try_lock(pool: &PgPool, stream: &str) -> anyhow::Result<Option<StreamLock>> {
    let mut conn = pool.acquire().await.context("Failed to get a connection for the stream's lock")?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext($1 || $2))")
        .bind(PREFIX)
        .bind(stream)
        .fetch_one(&mut *conn)
        .await
        .context("Failed to take the stream's advisory lock")?;
    Ok(locked.then(|| StreamLock { conn: Some(conn), stream: stream.to_string() }))
}

impl StreamLock {
    pub async fn release(mut self) {
        if let Some(mut conn) = self.conn.take() {
            let unlocked = sqlx::query("SELECT pg_advisory_unlock(hashtext($1 || $2))")
                .bind(PREFIX)
                .bind(&self.stream)
                .execute(&mut *conn)
                .await;
            if unlocked.is_err() {
                // Closing the session is the other way to release it.
                drop(conn.detach());
            }
        }
    }
}

impl Drop for StreamLock {
    fn drop(&mut self) {
        // Not released (an error or a cancelled future): close the session
        // rather than return a connection still holding the lock to the pool.
        if let Some(conn) = self.conn.take() {
            drop(conn.detach());
        }
    }
}
