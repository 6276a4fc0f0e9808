//! How stale the mirror is now: for each list stream, how long ago its last
//! walk started (and how long it took); for each child stream, where its
//! bundles stand ([`Standing`]), with the age of the oldest children of a
//! non-terminal bundle. The SQL is in the modules owning the tables
//! ([`runs`], [`child_refreshes`]); continuous mode picks its next work from
//! this, and `worker runs` shows it.

use std::time::Duration;

use sqlx::PgPool;

use super::child_refreshes::{self, Standing};
use super::runs;
use super::streams::{self, Stream};

/// A list stream's last walk: seconds since it started, seconds it took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LastWalk {
    pub age: f64,
    pub took: f64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Staleness {
    /// Each configured stream whose freshness is its last run's age (lists,
    /// per-parent and snapshot streams: [`Stream::is_walked`]); `None`:
    /// never walked to its end.
    pub lists: Vec<(&'static str, Option<LastWalk>)>,
    pub children: Vec<(&'static str, Standing)>,
}

impl Staleness {
    /// The list stream whose last walk is oldest (one never walked first),
    /// with that walk's age.
    pub fn oldest_walk(&self) -> Option<(&'static str, Option<f64>)> {
        let age = |w: &Option<LastWalk>| w.map_or(f64::INFINITY, |w| w.age);
        let oldest = self.lists.iter().max_by(|a, b| age(&a.1).total_cmp(&age(&b.1)))?;
        Some((oldest.0, oldest.1.map(|w| w.age)))
    }

    /// The child stream holding the oldest children of a non-terminal
    /// bundle, with their age in seconds.
    pub fn oldest_active_children(&self) -> Option<(&'static str, f64)> {
        self.children
            .iter()
            .filter_map(|(s, st)| st.oldest_active_secs.map(|age| (*s, age)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }
}

/// The staleness of the configured `streams` (names of [`streams::ALL`]);
/// terminal bundles' children older than `overdue_after` count as overdue.
pub async fn now(pool: &PgPool, configured: &[&str], overdue_after: Duration) -> anyhow::Result<Staleness> {
    let mut lists = Vec::new();
    let mut children = Vec::new();
    for name in configured {
        match streams::find(name) {
            Some(Stream::Children(c)) => children
                .push((c.name, child_refreshes::standing(pool, c.name, c.videos, overdue_after).await?)),
            Some(s) => lists.push(s.name()),
            None => {}
        }
    }
    let walks = runs::last_walks(pool, &lists).await?;
    let lists = lists
        .into_iter()
        .zip(walks)
        .map(|(name, (_, last))| (name, last.map(|(age, took)| LastWalk { age, took })))
        .collect();
    Ok(Staleness { lists, children })
}
