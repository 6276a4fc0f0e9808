//! Everything a running simulator holds: the keys with their buckets, stores
//! and counters; the world (dataset, balances, ledger, PRNG); the fault knobs;
//! the webhook endpoints and events.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::bucket::Bucket;
use super::config::SimConfig;
use super::dataset::Dataset;
use super::faults::{Faults, FaultsFired};
use super::idempotency::IdempotencyStore;
use super::ledger::LedgerEntry;
use super::lock::lock;
use super::rng::Rng;
use super::saved::{self, Saved};
use super::seed;
use super::webhooks::Webhooks;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct KeyCounters {
    /// Authenticated requests, including refused ones.
    pub requests: u64,
    /// 429s served.
    pub rate_limited: u64,
    /// Stored answers replayed (`Idempotent-Replayed: true`).
    pub replays: u64,
    /// Mutations executed (each has a ledger entry).
    pub executions: u64,
    /// Mutations executing right now.
    pub in_flight: u64,
}

#[derive(Debug)]
pub struct KeyState {
    pub index: usize,
    pub fingerprint: String,
    pub read_only: bool,
    /// The account `GET /me` names.
    pub account: String,
    pub bucket: Mutex<Bucket>,
    pub idempotency: Mutex<IdempotencyStore>,
    pub counters: Mutex<KeyCounters>,
    /// Revoked keys are answered 401 `AUTH_REVOKED_KEY` (until a reset).
    pub revoked: std::sync::atomic::AtomicBool,
}

/// One key's money: its balance and its history (newest first).
#[derive(Debug, Clone)]
pub struct Account {
    pub credits: i64,
    pub debited: i64,
    pub history: Vec<Value>,
}

impl Account {
    pub fn debit(&mut self, amount: i64, description: &str, bundle_id: Option<String>, rng: &mut Rng) {
        self.credits -= amount;
        self.debited += amount;
        let entry = json!({
            "id": rng.uuid().to_string(),
            "type": "debit",
            "amount": -amount,
            "balance_after": self.credits,
            "description": description,
            "bundle_id": bundle_id,
            "created_at": seed::timestamp(chrono::Utc::now()),
        });
        self.history.insert(0, entry);
    }
}

/// What mutations change, behind one lock so a debit and its bundle are atomic.
#[derive(Debug)]
pub struct World {
    pub data: Dataset,
    /// The delivered accounts, their bans and comment tasks.
    pub saved: Saved,
    pub accounts: Vec<Account>,
    pub ledger: Vec<LedgerEntry>,
    pub rng: Rng,
    /// Shuffles the `created_at_unstable` order; apart from `rng` so list
    /// requests never change the ids of bundles created later.
    pub order_rng: Rng,
}

impl World {
    /// The world at start; its dataset emits webhook events to `webhooks`.
    pub fn connected(config: &SimConfig, webhooks: &Arc<Webhooks>) -> Self {
        let mut world = World::seeded(config);
        world.data.webhooks = Some(Arc::clone(webhooks));
        world
    }

    pub fn seeded(config: &SimConfig) -> Self {
        let accounts = config
            .keys
            .iter()
            .enumerate()
            .map(|(i, key)| Account {
                credits: key.credits,
                debited: 0,
                history: seed::credit_history(config.seed, i, key.credits),
            })
            .collect();
        let saved = saved::seed::seeded(config.seed, config.saved_accounts());
        World {
            data: seed::bundles(config.seed, config.bundles, &saved::seed::ids(&saved)),
            saved,
            accounts,
            ledger: Vec::new(),
            // Distinct stream from the dataset's so new ids never repeat seeded ones.
            rng: Rng::new(config.seed ^ 0x005E_ED0F_F1CE),
            order_rng: Rng::new(config.seed ^ 0x0D_E5),
        }
    }
}

/// `Debug` is hand-written: `keys` is keyed by the raw API keys.
pub struct Shared {
    pub config: SimConfig,
    pub keys: HashMap<String, Arc<KeyState>>,
    pub world: Mutex<World>,
    pub faults: Mutex<Faults>,
    pub fired: Mutex<FaultsFired>,
    pub fault_rng: Mutex<Rng>,
    /// Bumped to let slowed mutations go at once (`SimServer::release_slow`).
    pub release: watch::Sender<u64>,
    pub list_requests: AtomicU64,
    /// Requests answered 401 (no key, an unknown key or a revoked one).
    pub refused: AtomicU64,
    pub request_ids: AtomicU64,
    /// Registered endpoints and emitted events (the dataset holds it too, to emit).
    pub webhooks: Arc<Webhooks>,
    pub shutdown: CancellationToken,
    pub tracker: TaskTracker,
    /// Steady change at a rate (`/__sim/churn`).
    pub churn: Mutex<super::churn::Churn>,
    /// Steady change of the delivered accounts (`/__sim/account-churn`).
    pub account_churn: Mutex<super::account_churn::AccountChurn>,
}

impl Shared {
    pub fn new(config: SimConfig) -> Self {
        let now = Instant::now();
        let keys = config
            .keys
            .iter()
            .enumerate()
            .map(|(index, key)| {
                let state = KeyState {
                    index,
                    fingerprint: key.fingerprint(),
                    read_only: key.read_only,
                    account: key.account_id(),
                    bucket: Mutex::new(Bucket::new(config.burst, config.rate_per_second, now)),
                    idempotency: Mutex::new(IdempotencyStore::default()),
                    counters: Mutex::new(KeyCounters::default()),
                    revoked: std::sync::atomic::AtomicBool::new(false),
                };
                (key.key.clone(), Arc::new(state))
            })
            .collect();
        let webhooks = Arc::new(Webhooks::default());
        Shared {
            world: Mutex::new(World::connected(&config, &webhooks)),
            webhooks,
            faults: Mutex::new(config.faults.clone()),
            fired: Mutex::new(FaultsFired::default()),
            fault_rng: Mutex::new(Rng::new(config.seed ^ 0xFA_17)),
            release: watch::channel(0).0,
            list_requests: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            request_ids: AtomicU64::new(0),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            churn: Mutex::default(),
            account_churn: Mutex::default(),
            keys,
            config,
        }
    }

    /// The keys' fingerprints, in configuration order (what `Debug` and logs may show).
    pub fn fingerprints(&self) -> Vec<&str> {
        let mut keys: Vec<&KeyState> = self.keys.values().map(|k| &**k).collect();
        keys.sort_by_key(|k| k.index);
        keys.into_iter().map(|k| k.fingerprint.as_str()).collect()
    }

    pub fn key_by_fingerprint(&self, fingerprint: &str) -> Option<&Arc<KeyState>> {
        self.keys.values().find(|k| k.fingerprint == fingerprint)
    }

    /// Back to the state right after start: dataset, balances, ledger, buckets,
    /// idempotency stores, counters, faults, webhook endpoints and events.
    pub fn reset(&self) {
        *lock(&self.world) = World::connected(&self.config, &self.webhooks);
        *lock(&self.churn) = super::churn::Churn::default();
        *lock(&self.account_churn) = super::account_churn::AccountChurn::default();
        self.webhooks.reset();
        *lock(&self.faults) = self.config.faults.clone();
        *lock(&self.fired) = FaultsFired::default();
        *lock(&self.fault_rng) = Rng::new(self.config.seed ^ 0xFA_17);
        self.list_requests.store(0, std::sync::atomic::Ordering::Relaxed);
        self.refused.store(0, std::sync::atomic::Ordering::Relaxed);
        let now = Instant::now();
        for key in self.keys.values() {
            *lock(&key.bucket) = Bucket::new(self.config.burst, self.config.rate_per_second, now);
            lock(&key.idempotency).clear();
            key.revoked.store(false, std::sync::atomic::Ordering::Relaxed);
            let in_flight = lock(&key.counters).in_flight;
            *lock(&key.counters) = KeyCounters { in_flight, ..KeyCounters::default() };
        }
    }
}

/// Never the raw keys: only their fingerprints (and the config, whose `SimKey`s
/// show fingerprints too).
impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("key_fingerprints", &self.fingerprints())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
