//! What the mirror runs on: [`Mirror`] (the pool of the process, the key's
//! client and the [`Settings`]), and the [`Progress`] it reports each walk to.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;

use super::summary::Status;
use crate::api::Client;
use crate::api::ahead::{Ahead, DEFAULT_MEMORY_CAP};

/// The knobs of the mirror (from `sync.*` and `api.*`).
#[derive(Debug, Clone)]
pub struct Settings {
    pub per_page: u32,
    /// Sustained requests per second of the key, to state what a plan costs.
    pub rate_per_second: f64,
    pub full_walk_every: Duration,
    /// How far before the last run's start a routine `since` run reads back.
    pub since_overlap: Duration,
    pub children_full_refresh: Duration,
    pub children_active_refresh: Duration,
    /// Time between two scheduled runs: sizes the rotating slice of children.
    pub run_period: Duration,
    pub max_requests_per_run: u32,
    pub max_delete_checks: u32,
    pub max_delete_fraction: f64,
    /// How often a walk logs a progress line (`log.progress_secs`).
    pub progress_every: Duration,
}

/// What the mirror runs on: the pool of the process and the key's client.
#[derive(Clone)]
pub struct Mirror {
    pub pool: PgPool,
    pub client: Client,
    pub settings: Settings,
    /// Told how far each walk is; `None` reports nothing.
    pub progress: Option<Arc<dyn Progress>>,
    /// Memory a walk's pages in flight may take, in bytes (`api.pages_in_flight_mib`).
    pub in_flight_memory: usize,
    /// A stream's page 1, asked for before its walk started ([`super::account`]).
    pub first_page: FirstPage,
}

/// Page 1 of a stream's walk, asked for before the walk started, kept for it.
#[derive(Clone, Default)]
pub struct FirstPage(Arc<Mutex<Option<(&'static str, Ahead)>>>);

impl FirstPage {
    /// A guard that forgets the page kept (stopping its request) when the
    /// sync it was asked for ends, however it ends: a later sync would find
    /// it stale.
    pub fn for_this_sync(&self) -> ForgetFirstPage {
        ForgetFirstPage(self.0.clone())
    }
}

/// See [`FirstPage::for_this_sync`].
pub struct ForgetFirstPage(Arc<Mutex<Option<(&'static str, Ahead)>>>);

impl Drop for ForgetFirstPage {
    fn drop(&mut self) {
        drop(self.0.lock().unwrap_or_else(|e| e.into_inner()).take());
    }
}

impl Mirror {
    pub fn new(pool: PgPool, client: Client, settings: Settings) -> Mirror {
        Mirror {
            pool,
            client,
            settings,
            progress: None,
            in_flight_memory: DEFAULT_MEMORY_CAP,
            first_page: FirstPage::default(),
        }
    }

    /// The same mirror, its walks' pages in flight bounded by `bytes`.
    pub fn with_in_flight_memory(self, bytes: usize) -> Mirror {
        Mirror { in_flight_memory: bytes.max(1), ..self }
    }

    /// The same mirror, reporting each walk's progress to `progress`.
    pub fn with_progress(self, progress: Arc<dyn Progress>) -> Mirror {
        Mirror { progress: Some(progress), ..self }
    }

    /// Keeps `ahead` (page 1 of `stream`'s walk asked for already) for that walk.
    pub(super) fn keep_first_page(&self, stream: &'static str, ahead: Ahead) {
        *self.first_page.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((stream, ahead));
    }

    /// The pages of `stream`'s walk from page 1 asked for before it started, if any.
    pub(super) fn take_first_page(&self, stream: &str) -> Option<Ahead> {
        let mut kept = self.first_page.0.lock().unwrap_or_else(|e| e.into_inner());
        match kept.take() {
            Some((name, ahead)) if name == stream => Some(ahead),
            other => {
                *kept = other;
                None
            }
        }
    }

    /// `done` of `total` requests of `stream` are behind it.
    pub(crate) fn advance(&self, stream: &'static str, done: u64, total: Option<u64>) {
        if let Some(p) = &self.progress {
            p.advance(stream, done, total);
        }
    }
}

/// Where a walk says how far it is (a terminal's bars, say): given to the
/// mirror by whoever runs it, so the mirror calls nothing above it.
pub trait Progress: Send + Sync {
    /// `done` of `total` requests of `stream` are behind it (pages, or
    /// bundles for a child stream).
    fn advance(&self, stream: &'static str, done: u64, total: Option<u64>);
    /// The walk of `stream` ended with `status`.
    fn finished(&self, stream: &'static str, status: Status);
}
