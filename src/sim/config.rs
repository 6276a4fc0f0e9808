//! What a simulator is started with: dataset size and seed, the keys it
//! accepts, the rate limit, the idempotency lifetime, the initial faults and
//! the webhook delivery schedule.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use super::faults::Faults;

/// The fixed full-scope key of a default simulator (documented in docs/simulator.md),
/// so demos and scripts work without configuration. It is not a secret.
pub const DEMO_KEY: &str = "sk_5151000000000000000000000000000000000000000000000000000000000001";

/// The most bundles a simulator holds, seeded and inserted together: about
/// 1.5 GB at 0.77 KB a bundle. More is refused with a clear error rather than
/// aborting the process out of memory.
pub const MAX_BUNDLES: usize = 2_000_000;

/// Credits the demo key starts with.
pub const DEMO_CREDITS: i64 = 10_000;

#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where to listen; loopback and an ephemeral port by default.
    pub bind: SocketAddr,
    /// Seeded bundles in the dataset.
    pub bundles: usize,
    /// Delivered accounts in the pool (`GET /accounts`); `None`: one for
    /// every five bundles, at least one (see [`SimConfig::saved_accounts`]).
    pub accounts: Option<usize>,
    pub seed: u64,
    /// Bucket refill, tokens per second.
    pub rate_per_second: f64,
    /// Bucket capacity.
    pub burst: u32,
    /// `false` turns the bucket off (every request allowed; headers still sent).
    pub rate_limit: bool,
    pub keys: Vec<SimKey>,
    /// How long a stored idempotent response is kept.
    pub idempotency_ttl: Duration,
    /// Fault settings at start (and after a reset).
    pub faults: Faults,
    /// How webhook deliveries are timed out and retried.
    pub webhooks: WebhookConfig,
}

/// The webhook delivery schedule (the reference documents none; see
/// [`super::webhooks`]): attempt `n` failed, the next waits
/// `min(retry_base × 2^(n-1), retry_cap)`, until `max_attempts` were made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookConfig {
    /// How long one delivery waits for an answer before it counts as failed.
    pub timeout: Duration,
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// Attempts of one delivery, the first included (at least 1).
    pub max_attempts: u32,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            timeout: Duration::from_secs(5),
            retry_base: Duration::from_secs(1),
            retry_cap: Duration::from_secs(60),
            max_attempts: 8,
        }
    }
}

impl WebhookConfig {
    /// The wait after the `failed`th failed attempt (1-based).
    pub fn backoff(&self, failed: u32) -> Duration {
        let factor = 1u32.checked_shl(failed.saturating_sub(1)).unwrap_or(u32::MAX);
        self.retry_base.saturating_mul(factor).min(self.retry_cap)
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            bundles: 137,
            accounts: None,
            seed: 42,
            rate_per_second: 2.0,
            burst: 120,
            rate_limit: true,
            keys: vec![SimKey::full(DEMO_KEY, DEMO_CREDITS)],
            idempotency_ttl: Duration::from_secs(24 * 60 * 60),
            faults: Faults::default(),
            webhooks: WebhookConfig::default(),
        }
    }
}

impl SimConfig {
    /// The pool's size: `accounts`, or one for every five bundles (at least one).
    pub fn saved_accounts(&self) -> usize {
        self.accounts.unwrap_or((self.bundles / 5).max(1))
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(!self.keys.is_empty(), "the simulator needs at least one API key");
        anyhow::ensure!(
            self.bundles <= MAX_BUNDLES,
            "--bundles {} is more than the simulator holds (at most {MAX_BUNDLES}, about 1.5 GB of memory)",
            self.bundles
        );
        anyhow::ensure!(
            (1..=MAX_BUNDLES).contains(&self.saved_accounts()),
            "--accounts {} must be between 1 and {MAX_BUNDLES}",
            self.saved_accounts()
        );
        anyhow::ensure!(self.burst >= 1, "burst must be at least 1");
        anyhow::ensure!(
            !self.rate_limit || (self.rate_per_second.is_finite() && self.rate_per_second > 0.0),
            "rate must be a positive number of requests per second, got {}",
            self.rate_per_second
        );
        let mut seen = std::collections::HashSet::new();
        for key in &self.keys {
            anyhow::ensure!(!key.key.is_empty(), "an API key must not be empty");
            anyhow::ensure!(seen.insert(&key.key), "API key {} is listed twice", key.fingerprint());
        }
        anyhow::ensure!(self.webhooks.max_attempts >= 1, "webhooks.max_attempts must be at least 1");
        anyhow::ensure!(!self.webhooks.timeout.is_zero(), "webhooks.timeout must not be zero");
        self.faults.validate().map_err(anyhow::Error::msg)
    }
}

/// One API key the simulator accepts, with its own credits, bucket and
/// idempotency store. `Debug` shows only its fingerprint.
#[derive(Clone, PartialEq, Eq)]
pub struct SimKey {
    pub key: String,
    /// Read scope: GET only; writes are refused with 403 `AUTH_INSUFFICIENT_SCOPE`.
    pub read_only: bool,
    pub credits: i64,
    /// The account `GET /me` names for this key; `None`: one of its own,
    /// derived from the key (so a key names the same account in every
    /// simulator). Keys given the same account share it.
    pub account: Option<String>,
}

impl SimKey {
    pub fn full(key: &str, credits: i64) -> Self {
        SimKey { key: key.to_string(), read_only: false, credits, account: None }
    }

    pub fn read_only(key: &str) -> Self {
        SimKey { key: key.to_string(), read_only: true, credits: 0, account: None }
    }

    /// The same key, in `account`.
    pub fn in_account(self, account: &str) -> Self {
        SimKey { account: Some(account.to_string()), ..self }
    }

    /// The id `GET /me` answers for this key.
    pub fn account_id(&self) -> String {
        self.account.clone().unwrap_or_else(|| format!("usr_{}", self.fingerprint()))
    }

    pub fn fingerprint(&self) -> String {
        crate::secret::fingerprint(&secrecy::SecretString::from(self.key.as_str()))
    }
}

impl fmt::Debug for SimKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimKey")
            .field("fingerprint", &self.fingerprint())
            .field("read_only", &self.read_only)
            .field("credits", &self.credits)
            .field("account", &self.account)
            .finish()
    }
}

/// `KEY`, `KEY:CREDITS`, `KEY:CREDITS:read` or `KEY:CREDITS:SCOPE:ACCOUNT`
/// (the `--keys` syntax).
impl FromStr for SimKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.trim().split(':');
        let key = parts.next().unwrap_or_default().to_string();
        if key.is_empty() {
            return Err("an API key must not be empty".into());
        }
        let credits = match parts.next() {
            None | Some("") => DEMO_CREDITS,
            Some(n) => n.parse().map_err(|_| format!("credits must be an integer, got {n:?}"))?,
        };
        let read_only = match parts.next() {
            None | Some("full") | Some("*") => false,
            Some("read") => true,
            Some(other) => return Err(format!("scope must be `read` or `full`, got {other:?}")),
        };
        let account = parts.next().filter(|a| !a.is_empty()).map(str::to_string);
        if parts.next().is_some() {
            return Err("expected KEY[:CREDITS[:read|full[:ACCOUNT]]]".into());
        }
        Ok(SimKey { key, read_only, credits, account })
    }
}
