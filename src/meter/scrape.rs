//! What `/metrics` reads at each scrape: the API clients' counters, and from
//! Postgres the queue, the block on each client's key, the problems set
//! aside, and how stale the mirror is (the last complete walk of each
//! enabled list stream, the oldest children of a bundle still moving). The
//! SQL lives with each table; this only sets the gauges.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use metrics::gauge;
use sqlx::PgPool;

use super::*;
use crate::api::Client;
use crate::db::budgets;
use crate::jobs::queue;
use crate::mirror::streams::{self, Stream};
use crate::mirror::{child_refreshes, problems, runs};

/// What a scrape reads from.
pub struct Sources {
    pub pool: PgPool,
    /// The API clients ("sync", "replay"), set once they exist (after the
    /// migrations: their budget lives in Postgres).
    pub clients: Arc<OnceLock<Vec<(&'static str, Client)>>>,
    /// The enabled streams (`sync.streams`): only theirs is staleness.
    pub streams: Vec<&'static str>,
    /// When the daemon started: a list it never walked is stale since then.
    pub started: DateTime<Utc>,
}

impl Sources {
    /// Sets every sampled series; what Postgres holds is waited for at most
    /// `wait` (`tokportal_postgres_up` says whether it answered).
    pub async fn sample(&self, wait: Duration) {
        let clients = self.clients.get().map(Vec::as_slice).unwrap_or_default();
        for (name, client) in clients {
            api_counters(name, &client.counters());
        }
        let responses: Vec<Vec<(u16, u64)>> = clients.iter().map(|(_, c)| c.responses()).collect();
        api_responses(responses.iter().map(Vec::as_slice));
        let up = match tokio::time::timeout(wait, self.read_postgres(clients)).await {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::debug!(error = format!("{e:#}"), "gauges read from Postgres not refreshed");
                false
            }
            Err(_) => {
                tracing::debug!("gauges read from Postgres not refreshed: it did not answer in time");
                false
            }
        };
        gauge!(POSTGRES_UP).set(if up { 1.0 } else { 0.0 });
    }

    async fn read_postgres(&self, clients: &[(&'static str, Client)]) -> anyhow::Result<()> {
        let pool = &self.pool;
        let (depth, oldest, due) = queue::depth(pool).await.context("Failed to read the queue")?;
        gauge!(QUEUE_DEPTH).set(depth as f64);
        gauge!(QUEUE_OLDEST_AGE).set(oldest);
        gauge!(QUEUE_OLDEST_DUE).set(due);

        let keys = budgets::rows(pool).await?;
        for (name, client) in clients {
            let fingerprint = client.key_fingerprint();
            let row = keys.iter().find(|r| r.key_fingerprint == fingerprint);
            gauge!(API_BLOCKED, "client" => *name).set(row.and_then(|r| r.blocked_for_secs).unwrap_or(0.0));
        }

        let open = problems::open_counts(pool).await?;
        for stream in streams::names() {
            let n = open.iter().find(|(s, _)| s == stream).map_or(0, |(_, n)| *n);
            gauge!(SYNC_PROBLEMS_OPEN, "stream" => *stream).set(n as f64);
        }

        let enabled = || self.streams.iter().filter_map(|s| streams::find(s));
        let lists: Vec<&str> = enabled().filter(|s| s.is_walked()).map(Stream::name).collect();
        for (stream, age) in runs::walk_ages(pool, &lists, self.started).await? {
            gauge!(WALK_AGE, "stream" => stream).set(age);
        }
        for stream in enabled() {
            if let Stream::Children(child) = stream {
                let age = child_refreshes::oldest_active_age(pool, child.name, child.videos).await?;
                gauge!(CHILDREN_AGE, "stream" => child.name).set(age);
            }
        }
        Ok(())
    }
}
