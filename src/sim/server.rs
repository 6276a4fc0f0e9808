//! The HTTP server: our own accept loop over hyper, so a handler can close its
//! connection without answering (the drop fault), and a `SimServer` handle.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::middleware;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_service::Service;

use super::config::SimConfig;
use super::control::{self, KeyStats, SimStats};
use super::error::ApiError;
use super::faults::Faults;
use super::ledger::LedgerEntry;
use super::state::{Shared, lock};
use super::{admin, gate, handlers};

/// Put in every request's extensions: cancelling it closes that request's connection.
#[derive(Debug, Clone)]
pub struct ConnKill(pub CancellationToken);

/// A running simulator. Stop it with [`SimServer::shutdown`]; dropping it also
/// stops it, without waiting. `Debug` shows the address and the keys' fingerprints only.
pub struct SimServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

/// Starts a simulator on `config.bind` (loopback, ephemeral port by default).
pub async fn start(config: SimConfig) -> anyhow::Result<SimServer> {
    config.validate().context("Invalid simulator configuration")?;
    let listener = TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("Failed to bind the simulator to {}", config.bind))?;
    let addr = listener.local_addr().context("Failed to read the simulator's address")?;
    let shared = Arc::new(Shared::new(config));
    let router = routes(Arc::clone(&shared));
    shared.tracker.spawn(accept_loop(listener, router, Arc::clone(&shared)));
    Ok(SimServer { addr, shared })
}

fn routes(shared: Arc<Shared>) -> Router {
    let api = handlers::router().layer(middleware::from_fn_with_state(Arc::clone(&shared), gate::gate));
    Router::new()
        .nest("/api/ext", api)
        .nest("/__sim", admin::router())
        .fallback(|| async { ApiError::not_found() })
        .with_state(shared)
}

async fn accept_loop(listener: TcpListener, router: Router, shared: Arc<Shared>) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "simulator accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shared.shutdown.cancelled() => return,
        };
        let _ = stream.set_nodelay(true);
        let kill = CancellationToken::new();
        let conn_kill = ConnKill(kill.clone());
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(conn_kill.clone());
            let mut router = router.clone();
            async move { router.call(req.map(Body::new)).await }
        });
        let shutdown = shared.shutdown.clone();
        shared.tracker.spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                () = kill.cancelled() => {}
                () = shutdown.cancelled() => {}
            }
        });
    }
}

impl std::fmt::Debug for SimServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimServer")
            .field("addr", &self.addr)
            .field("key_fingerprints", &self.shared.fingerprints())
            .finish_non_exhaustive()
    }
}

impl SimServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API root, like `https://app.tokportal.com/api/ext` (no trailing slash).
    pub fn base_url(&self) -> url::Url {
        url::Url::parse(&format!("http://{}/api/ext", self.addr)).expect("a socket address makes a valid URL")
    }

    /// The admin root (no trailing slash): `{admin_url}/stats`, `/faults`, …
    pub fn admin_url(&self) -> url::Url {
        url::Url::parse(&format!("http://{}/__sim", self.addr)).expect("a socket address makes a valid URL")
    }

    pub fn stats(&self) -> SimStats {
        control::stats(&self.shared)
    }

    /// Stats of one key, named by the key itself (looked up, never stored).
    pub fn key_stats(&self, key: &str) -> Option<KeyStats> {
        let fingerprint = self.shared.keys.get(key)?.fingerprint.clone();
        self.stats().keys.into_iter().find(|k| k.fingerprint == fingerprint)
    }

    pub fn ledger(&self) -> Vec<LedgerEntry> {
        control::ledger(&self.shared)
    }

    pub fn dataset(&self) -> Value {
        control::dataset(&self.shared)
    }

    pub fn faults(&self) -> Faults {
        lock(&self.shared.faults).clone()
    }

    pub fn set_faults(&self, faults: Faults) -> anyhow::Result<()> {
        control::set_faults(&self.shared, faults).map_err(anyhow::Error::msg)
    }

    /// Changes some knobs, e.g. `sim.update_faults(|f| f.fail_next = 2)`, atomically
    /// (`change` runs under the faults' lock: it must not call back into the simulator).
    pub fn update_faults(&self, change: impl FnOnce(&mut Faults)) -> anyhow::Result<()> {
        control::update_faults(&self.shared, |faults| {
            change(faults);
            Ok(())
        })
        .map(drop)
        .map_err(anyhow::Error::msg)
    }

    /// Lets every mutation held by `slow_ms` execute now.
    pub fn release_slow(&self) {
        control::release_slow(&self.shared);
    }

    /// Empties `key`'s bucket so it stays empty for `hold` (a 429 storm). False if unknown.
    /// Without rate limiting (`rate_limit: false`) the bucket is never consulted, so this has no effect.
    pub fn drain(&self, key: &str, hold: Duration) -> bool {
        match self.shared.keys.get(key) {
            Some(state) => control::drain(&self.shared, &state.fingerprint, hold),
            None => false,
        }
    }

    /// Inserts `count` new bundles at the head of the listing; returns their ids.
    pub fn insert_bundles(&self, count: usize) -> Vec<String> {
        control::insert(&self.shared, count)
    }

    /// Deletes these bundles; returns the ids that existed.
    pub fn delete_bundles(&self, ids: &[String]) -> Vec<String> {
        control::delete(&self.shared, ids, 0)
    }

    /// Sets fields of one bundle (anything but `id`). False if there is no such bundle.
    pub fn change_bundle(&self, id: &str, set: Map<String, Value>) -> bool {
        !control::change(&self.shared, &[id.to_string()], &set, 0).is_empty()
    }

    /// Ids of every bundle, newest first (the order `GET /bundles` serves).
    pub fn bundle_ids(&self) -> Vec<String> {
        lock(&self.shared.world).data.bundles.iter().map(|b| b.id.to_string()).collect()
    }

    /// Back to the state right after start.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Stops accepting, closes every connection and waits for the server's tasks.
    pub async fn shutdown(self) {
        self.shared.shutdown.cancel();
        self.shared.tracker.close();
        self.shared.tracker.wait().await;
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}
