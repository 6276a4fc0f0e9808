//! [`SimServer`], the handle of a running simulator: its addresses, stats,
//! ledger and fault knobs, and stopping it. What it can do to the data is in
//! [`super::handle_data`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::control::{self, KeyStats, SimStats};
use super::faults::Faults;
use super::ledger::LedgerEntry;
use super::lock::lock;
use super::state::Shared;

/// A running simulator. Stop it with [`SimServer::shutdown`]; dropping it also
/// stops it, without waiting. `Debug` shows the address and the keys' fingerprints only.
pub struct SimServer {
    addr: SocketAddr,
    pub(super) shared: Arc<Shared>,
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
    pub(super) fn new(addr: SocketAddr, shared: Arc<Shared>) -> Self {
        SimServer { addr, shared }
    }

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

    /// Revokes `key`: every request with it is answered 401 `AUTH_REVOKED_KEY`
    /// until a reset. False if unknown.
    pub fn revoke(&self, key: &str) -> bool {
        match self.shared.keys.get(key) {
            Some(state) => {
                state.revoked.store(true, std::sync::atomic::Ordering::Relaxed);
                true
            }
            None => false,
        }
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
