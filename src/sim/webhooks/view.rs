//! What the handle and `GET /__sim/webhooks/…` show of the emitted events,
//! their deliveries and attempts, and of the registered endpoints (never their secrets).

use std::time::SystemTime;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};

/// Where one delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its first attempt or its next retry.
    Pending,
    InFlight,
    /// Held back by `webhook_out_of_order_next` until the endpoint's next
    /// delivery was sent, or `retry_cap` passed with none (its `next_attempt`).
    Held,
    /// A 2xx answered.
    Delivered,
    /// Every attempt failed.
    Failed,
    /// Never sent (`webhook_drop_next`).
    Dropped,
    /// Its endpoint was deleted first.
    Cancelled,
}

impl DeliveryState {
    /// No attempt will follow.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Delivered | Self::Failed | Self::Dropped | Self::Cancelled)
    }
}

/// One POST of a delivery (a duplicated delivery makes two).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookAttempt {
    #[serde(serialize_with = "rfc3339")]
    pub at: SystemTime,
    /// The `t` of its signature (unix seconds).
    pub signed_at: i64,
    /// The answer's status; `None` after a timeout or a connection error.
    pub status: Option<u16>,
    pub error: Option<String>,
    /// The webhook faults applied to it: `duplicate`, `bad_signature`, `late`, `out_of_order`.
    pub faults: Vec<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookDelivery {
    pub id: String,
    pub endpoint_id: String,
    pub state: DeliveryState,
    /// When the next attempt is due (pending, or held: its release at the latest).
    #[serde(serialize_with = "rfc3339_opt")]
    pub next_attempt: Option<SystemTime>,
    pub attempts: Vec<WebhookAttempt>,
}

/// One emitted event: its envelope's id, type and time, the bundle it is
/// about, and one delivery per endpoint subscribed to its type when it was emitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub bundle_id: Option<String>,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: SystemTime,
    pub deliveries: Vec<WebhookDelivery>,
}

/// A registered endpoint as the simulator holds it, less its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookEndpoint {
    pub id: String,
    /// The fingerprint of the key that registered it.
    pub key_fingerprint: String,
    pub url: String,
    /// Subscribed types; empty means all.
    pub events: Vec<String>,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: SystemTime,
}

/// An endpoint just registered: what `POST /webhooks` answers, secret included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub id: String,
    pub secret: String,
}

/// RFC 3339 with milliseconds, the envelope's `created_at` format.
pub fn timestamp(at: SystemTime) -> String {
    DateTime::<Utc>::from(at).to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn rfc3339<S: Serializer>(at: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&timestamp(*at))
}

fn rfc3339_opt<S: Serializer>(at: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => rfc3339(at, s),
        None => s.serialize_none(),
    }
}
