//! Fault settings (what the simulator is told to break) and the counters of
//! faults it actually injected. Counted knobs (`*_next`) are consumed as they fire.

use serde::{Deserialize, Serialize};

use super::filter::ListOrder;
use super::rng::Rng;

/// The largest `retry_after_details_extra_secs` and `fail_retry_after_secs` (a day).
pub const MAX_RETRY_AFTER_EXTRA_SECS: u64 = 24 * 60 * 60;

/// How a `Retry-After` header is written (RFC 9110 allows both).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryAfterFormat {
    /// Delay in whole seconds: `Retry-After: 2`.
    #[default]
    Seconds,
    /// The instant as an IMF-fixdate, rounded up to the second:
    /// `Retry-After: Sun, 06 Nov 1994 08:49:37 GMT`.
    HttpDate,
}

/// Which requests the fail/drop/stall knobs apply to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultTarget {
    #[default]
    All,
    Reads,
    Writes,
}

impl FaultTarget {
    pub fn matches(self, is_write: bool) -> bool {
        match self {
            FaultTarget::All => true,
            FaultTarget::Reads => !is_write,
            FaultTarget::Writes => is_write,
        }
    }
}

/// What an automatic drift event does to the dataset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// One of insert, delete or change, drawn from the seeded PRNG.
    #[default]
    Mixed,
    Insert,
    Delete,
    Change,
}

/// Every knob; `GET /__sim/faults` shows this, `PUT /__sim/faults` replaces it
/// (missing fields take their defaults, i.e. off).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Requests the fail/drop/stall knobs apply to.
    pub target: FaultTarget,
    /// The next N matching requests answer `fail_status` before executing.
    pub fail_next: u32,
    /// Probability (seeded PRNG) that a matching request answers `fail_status` before executing.
    pub fail_rate: f64,
    /// 5xx status of injected failures.
    pub fail_status: u16,
    /// The next N matching requests execute, then the connection is closed without an answer.
    pub drop_next: u32,
    /// The next N matching requests execute, then the answer is held for `stall_ms`.
    pub stall_next: u32,
    pub stall_ms: u64,
    /// The next N list pages (every paginated list: `GET /bundles`, `/credits/history`,
    /// `/accounts`, `/account-bans`, `/comments`, `/webhooks`, deliveries) are cut-off JSON.
    pub malformed_next: u32,
    /// Every mutation waits this long before it executes (its idempotency key stays in progress).
    pub slow_ms: u64,
    /// Every Nth `GET /bundles` first applies one drift event (0 = off).
    pub drift_every: u32,
    pub drift_kind: DriftKind,
    /// Added to `details.retry_after_seconds` of 429s only, so it disagrees with
    /// `Retry-After` the way the reference's own example does (1 vs 2).
    pub retry_after_details_extra_secs: u64,
    /// How the `Retry-After` of 429s is written.
    pub retry_after_format: RetryAfterFormat,
    /// Injected failures (`fail_next`, `fail_rate`) carry `Retry-After` of this
    /// many seconds (none when null), written as `fail_retry_after_format` says.
    pub fail_retry_after_secs: Option<u64>,
    pub fail_retry_after_format: RetryAfterFormat,
    /// The order of `GET /bundles`.
    pub order: ListOrder,
    /// Probability (seeded PRNG) that a matching request executes, then loses its answer (like `drop_next`).
    pub drop_rate: f64,
    /// Probability (seeded PRNG) that a matching request executes, then stalls `stall_ms` (like `stall_next`).
    pub stall_rate: f64,
    /// The next N writes answer 409 `BUNDLE_PRICING_CHANGED` before executing.
    pub pricing_changed_next: u32,
    /// The next N webhook deliveries are sent twice (same event id, same body).
    pub webhook_duplicate_next: u32,
    /// The next N webhook deliveries are held until the endpoint's next delivery
    /// was sent, or for the retry schedule's cap when none follows.
    pub webhook_out_of_order_next: u32,
    /// The next N webhook attempts are signed with a secret that is not the endpoint's.
    pub webhook_bad_signature_next: u32,
    /// The next N webhook attempts are signed with a `t` [`WEBHOOK_LATE_BY_SECS`] in the past.
    pub webhook_late_next: u32,
    /// The next N webhook deliveries are never sent (nor retried).
    pub webhook_drop_next: u32,
    /// Every API answer takes this long (half before the request is handled,
    /// half after): a distant server.
    pub latency_ms: u64,
    /// Up to this much more per answer, drawn from the seeded PRNG.
    pub latency_jitter_ms: u64,
}

/// How far in the past `webhook_late_next` stamps a signature: twice the
/// SDKs' 300 s tolerance, so no receiver's clock skew lets it through.
pub const WEBHOOK_LATE_BY_SECS: i64 = 600;

/// Consumes one of a counted knob; whether it fired.
pub fn take(knob: &mut u32) -> bool {
    let fire = *knob > 0;
    *knob = knob.saturating_sub(1);
    fire
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            target: FaultTarget::All,
            fail_next: 0,
            fail_rate: 0.0,
            fail_status: 503,
            drop_next: 0,
            stall_next: 0,
            stall_ms: 60_000,
            malformed_next: 0,
            slow_ms: 0,
            drift_every: 0,
            drift_kind: DriftKind::Mixed,
            retry_after_details_extra_secs: 0,
            retry_after_format: RetryAfterFormat::Seconds,
            fail_retry_after_secs: None,
            fail_retry_after_format: RetryAfterFormat::Seconds,
            order: ListOrder::NewestFirst,
            drop_rate: 0.0,
            stall_rate: 0.0,
            pricing_changed_next: 0,
            webhook_duplicate_next: 0,
            webhook_out_of_order_next: 0,
            webhook_bad_signature_next: 0,
            webhook_late_next: 0,
            webhook_drop_next: 0,
            latency_ms: 0,
            latency_jitter_ms: 0,
        }
    }
}

impl Faults {
    pub fn validate(&self) -> Result<(), String> {
        if !(500..=599).contains(&self.fail_status) && self.fail_status != 408 {
            return Err(format!("fail_status must be a 5xx status (or 408), got {}", self.fail_status));
        }
        for (name, rate) in
            [("fail_rate", self.fail_rate), ("drop_rate", self.drop_rate), ("stall_rate", self.stall_rate)]
        {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1, got {rate}"));
            }
        }
        if self.retry_after_details_extra_secs > MAX_RETRY_AFTER_EXTRA_SECS {
            return Err(format!(
                "retry_after_details_extra_secs must be at most {MAX_RETRY_AFTER_EXTRA_SECS}, got {}",
                self.retry_after_details_extra_secs
            ));
        }
        if self.fail_retry_after_secs.is_some_and(|s| s > MAX_RETRY_AFTER_EXTRA_SECS) {
            return Err(format!(
                "fail_retry_after_secs must be at most {MAX_RETRY_AFTER_EXTRA_SECS}, got {:?}",
                self.fail_retry_after_secs
            ));
        }
        Ok(())
    }

    /// Whether this request fails before executing; consumes `fail_next`.
    pub fn take_fail(&mut self, is_write: bool, rng: &mut Rng) -> Option<u16> {
        if !self.target.matches(is_write) {
            return None;
        }
        if self.fail_next > 0 {
            self.fail_next -= 1;
            return Some(self.fail_status);
        }
        (self.fail_rate > 0.0 && rng.chance(self.fail_rate)).then_some(self.fail_status)
    }

    /// Whether this write answers `BUNDLE_PRICING_CHANGED`; consumes `pricing_changed_next`.
    pub fn take_pricing_changed(&mut self) -> bool {
        let fire = self.pricing_changed_next > 0;
        if fire {
            self.pricing_changed_next -= 1;
        }
        fire
    }

    /// What happens after this request executed; consumes `drop_next` then
    /// `stall_next`, then draws `drop_rate` and `stall_rate`.
    pub fn take_after(&mut self, is_write: bool, rng: &mut Rng) -> After {
        if !self.target.matches(is_write) {
            return After::Answer;
        }
        if self.drop_next > 0 {
            self.drop_next -= 1;
            return After::Drop;
        }
        if self.stall_next > 0 {
            self.stall_next -= 1;
            return After::Stall(std::time::Duration::from_millis(self.stall_ms));
        }
        if self.drop_rate > 0.0 && rng.chance(self.drop_rate) {
            return After::Drop;
        }
        if self.stall_rate > 0.0 && rng.chance(self.stall_rate) {
            return After::Stall(std::time::Duration::from_millis(self.stall_ms));
        }
        After::Answer
    }

    pub fn take_malformed(&mut self) -> bool {
        let fire = self.malformed_next > 0;
        self.malformed_next = self.malformed_next.saturating_sub(1);
        fire
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    Answer,
    Drop,
    Stall(std::time::Duration),
}

/// How many faults of each kind were injected since start or reset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultsFired {
    pub failed: u64,
    pub dropped: u64,
    pub stalled: u64,
    pub malformed: u64,
    pub drifted: u64,
    /// Webhook deliveries sent twice, held back, signed wrongly, signed late, never sent.
    #[serde(default)]
    pub webhook_duplicated: u64,
    #[serde(default)]
    pub webhook_reordered: u64,
    #[serde(default)]
    pub webhook_bad_signature: u64,
    #[serde(default)]
    pub webhook_late: u64,
    #[serde(default)]
    pub webhook_dropped: u64,
}
