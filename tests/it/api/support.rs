//! Clients of the API under test, pointed at a simulator.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use secrecy::SecretString;
use tokportal_sync::api::gcra::{Correction, Reservation, Rule};
use tokportal_sync::api::store::BoxFuture;
use tokportal_sync::api::{Budget, BudgetOptions, BudgetStore, Client, ClientOptions, MemoryStore};
use tokportal_sync::sim::{self, SimConfig, SimServer};

/// A simulator with `bundles` bundles and a bucket of `burst` refilling at `rate`.
pub async fn sim_with(bundles: usize, rate: f64, burst: u32) -> SimServer {
    let config = SimConfig { bundles, rate_per_second: rate, burst, ..SimConfig::default() };
    sim::start(config).await.expect("the simulator starts")
}

pub fn budget_options(rate: f64, burst: u32) -> BudgetOptions {
    BudgetOptions { rate_per_second: rate, burst, reserved_share: 0.0, max_wait: Duration::from_secs(30) }
}

pub fn client_options(sim: &SimServer, key: &str) -> ClientOptions {
    options_at(sim.base_url(), key)
}

fn options_at(base_url: url::Url, key: &str) -> ClientOptions {
    ClientOptions {
        base_url,
        key: SecretString::from(key),
        timeout: Duration::from_secs(5),
        max_retries: 3,
        max_response_bytes: 8 * 1024 * 1024,
    }
}

/// A scripted server on an ephemeral loopback port, for answers the simulator
/// never gives (several 429s in a row, a 503 with Retry-After), and options
/// pointing a client at it. Abort the handle to stop it.
pub async fn scripted(app: axum::Router) -> (ClientOptions, tokio::task::JoinHandle<std::io::Result<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("a bound address");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let base = format!("http://{addr}/").parse().expect("a URL");
    (options_at(base, tokportal_sync::sim::DEMO_KEY), server)
}

/// A client with its own in-memory budget.
pub fn client(options: ClientOptions, budget: BudgetOptions) -> Client {
    client_on(Arc::new(MemoryStore::new()), options, budget)
}

pub fn client_on(store: Arc<dyn BudgetStore>, options: ClientOptions, budget: BudgetOptions) -> Client {
    let fingerprint = tokportal_sync::secret::fingerprint(&options.key);
    Client::new(options, Arc::new(Budget::new(store, fingerprint, budget))).expect("the client builds")
}

/// A client probing a long 429 block every `every` (`api.probe_interval_secs`).
pub fn client_probing(
    store: Arc<dyn BudgetStore>,
    options: ClientOptions,
    budget: BudgetOptions,
    every: Duration,
) -> Client {
    let fingerprint = tokportal_sync::secret::fingerprint(&options.key);
    let budget = Budget::new(store, fingerprint, budget).with_probe_interval(every);
    Client::new(options, Arc::new(budget)).expect("the client builds")
}

/// A client as the worker builds it, for a simulator that rate-limits like `sim_with(_, rate, burst)`.
pub fn demo_client(sim: &SimServer, rate: f64, burst: u32) -> Client {
    client(client_options(sim, sim::DEMO_KEY), budget_options(rate, burst))
}

/// An in-memory budget store that counts what the budgets on it wrote: the
/// sends booked and the 429 blocks, so a test can wait for either.
#[derive(Default)]
pub struct WatchedStore {
    inner: MemoryStore,
    booked: AtomicU32,
    blocks: AtomicU32,
}

impl WatchedStore {
    /// Sends booked so far, a batch counting each of its sends.
    pub fn booked(&self) -> u32 {
        self.booked.load(Ordering::SeqCst)
    }

    /// 429 blocks written so far.
    pub fn blocks(&self) -> u32 {
        self.blocks.load(Ordering::SeqCst)
    }
}

impl BudgetStore for WatchedStore {
    fn reserve<'a>(
        &'a self,
        key: &'a str,
        rule: Rule,
        limit: f64,
        count: u32,
        probe_every: f64,
    ) -> BoxFuture<'a, anyhow::Result<Reservation>> {
        Box::pin(async move {
            let reservation = self.inner.reserve(key, rule, limit, count, probe_every).await?;
            self.booked.fetch_add(reservation.slots, Ordering::SeqCst);
            Ok(reservation)
        })
    }

    fn correct<'a>(&'a self, key: &'a str, correction: Correction) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            self.inner.correct(key, correction).await?;
            if correction.block_for.is_some() {
                self.blocks.fetch_add(1, Ordering::SeqCst);
            }
            Ok(())
        })
    }

    fn lift<'a>(&'a self, key: &'a str, tat_at_least: f64) -> BoxFuture<'a, anyhow::Result<()>> {
        self.inner.lift(key, tat_at_least)
    }
}
