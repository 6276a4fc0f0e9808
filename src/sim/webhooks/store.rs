//! The endpoints each key registered (with their secrets) and the events
//! emitted to them, each with one delivery per subscribed endpoint: its state
//! and every attempt. Emitting only records the event and wakes the
//! dispatcher ([`super::deliver`]), so the change that caused it never waits
//! for a delivery.

use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use axum::body::Bytes;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::time::Instant;
use uuid::Uuid;

use super::changes::Change;
use super::view::timestamp;
use super::view::{DeliveryState, Registered, WebhookAttempt};
use crate::sim::lock::lock;

/// Events kept for the deliveries lists and the handle; older ones are
/// forgotten (with their deliveries, sent or not), so a long benchmark stays bounded.
pub const MAX_EVENTS: usize = 100_000;

pub(super) struct Endpoint {
    pub id: String,
    /// The index of the key that registered it.
    pub owner: usize,
    pub url: String,
    /// Subscribed types; empty means all.
    pub events: Vec<String>,
    pub secret: String,
    pub created_at: SystemTime,
    /// An attempt to it is under way: one endpoint gets one delivery at a time.
    pub busy: bool,
    /// A disabled endpoint is kept but gets no new deliveries.
    pub enabled: bool,
}

impl Endpoint {
    pub fn wants(&self, kind: &str) -> bool {
        self.enabled && self.subscribes(kind)
    }

    /// Whether its subscription names `kind` (no events: every type).
    pub fn subscribes(&self, kind: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == kind)
    }
}

pub(super) struct Emitted {
    pub id: String,
    pub kind: String,
    pub bundle_id: String,
    pub created_at: SystemTime,
    /// The envelope, serialised once: every attempt sends these exact bytes.
    pub body: Bytes,
    pub deliveries: Vec<Delivery>,
}

pub(super) struct Delivery {
    pub id: String,
    pub endpoint: String,
    pub state: DeliveryState,
    /// When the next attempt is due (while pending).
    pub due: Option<Instant>,
    /// Tries made; a duplicated try counts once though it sends twice.
    pub tries: u32,
    pub attempts: Vec<WebhookAttempt>,
    /// Was held once by `webhook_out_of_order_next` (never held twice).
    pub was_held: bool,
}

#[derive(Default)]
pub(super) struct Store {
    pub endpoints: Vec<Endpoint>,
    /// Oldest first: `events[i]` has sequence number `first_seq + i`.
    pub events: VecDeque<Emitted>,
    pub first_seq: u64,
    /// Sequence numbers of the events with a delivery not final yet (what the dispatcher scans).
    pub open: BTreeSet<u64>,
    /// Bumped by a reset, so an attempt begun before it records nothing after it.
    pub generation: u64,
}

impl Store {
    pub fn event_mut(&mut self, seq: u64) -> Option<&mut Emitted> {
        let index = usize::try_from(seq.checked_sub(self.first_seq)?).ok()?;
        self.events.get_mut(index)
    }

    /// Takes `seq` out of `open` once none of its deliveries can make another attempt.
    pub fn close_if_done(&mut self, seq: u64) {
        let done = self.event_mut(seq).is_none_or(|e| e.deliveries.iter().all(|d| d.state.is_final()));
        if done {
            self.open.remove(&seq);
        }
    }
}

/// The registry and the event log, shared by the API, the dataset (which
/// emits) and the dispatcher. `Debug` shows no secret.
pub struct Webhooks {
    pub(super) store: Mutex<Store>,
    /// Whether any endpoint is registered: without one nothing is emitted,
    /// and the dataset does not even compare a bundle before and after a change.
    active: AtomicBool,
    /// Wakes the dispatcher: an event to deliver, an attempt finished.
    pub(super) wake: Notify,
}

impl fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhooks").field("active", &self.active()).finish_non_exhaustive()
    }
}

impl Default for Webhooks {
    fn default() -> Self {
        Webhooks { store: Mutex::new(Store::default()), active: AtomicBool::new(false), wake: Notify::new() }
    }
}

impl Webhooks {
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Stores an endpoint of the key at `owner`; `events` empty means every type.
    pub fn register(&self, owner: usize, url: &str, events: Vec<String>) -> (Registered, Value) {
        let endpoint = Endpoint {
            id: Uuid::new_v4().to_string(),
            owner,
            url: url.to_string(),
            events,
            secret: format!("whsec_{}", Uuid::new_v4().simple()),
            created_at: SystemTime::now(),
            busy: false,
            enabled: true,
        };
        let mut data = endpoint.item();
        data["secret"] = json!(endpoint.secret);
        let registered = Registered { id: endpoint.id.clone(), secret: endpoint.secret.clone() };
        let mut store = lock(&self.store);
        store.endpoints.push(endpoint);
        self.active.store(true, Ordering::Relaxed);
        (registered, data)
    }

    /// Removes one of the key's endpoints; what it had not delivered yet is cancelled.
    pub fn delete(&self, owner: usize, id: &str) -> bool {
        let mut store = lock(&self.store);
        let Some(index) = store.endpoints.iter().position(|e| e.id == id && e.owner == owner) else {
            return false;
        };
        store.endpoints.remove(index);
        self.active.store(!store.endpoints.is_empty(), Ordering::Relaxed);
        let open: Vec<u64> = store.open.iter().copied().collect();
        for seq in open {
            if let Some(event) = store.event_mut(seq) {
                for d in event.deliveries.iter_mut().filter(|d| d.endpoint == id) {
                    if matches!(d.state, DeliveryState::Pending | DeliveryState::Held) {
                        d.state = DeliveryState::Cancelled;
                        d.due = None;
                    }
                }
            }
            store.close_if_done(seq);
        }
        true
    }

    /// Records one event and wakes the dispatcher; nothing when no endpoint is registered.
    pub fn emit(&self, change: Change) {
        if !self.active() {
            return;
        }
        let mut store = lock(&self.store);
        if store.endpoints.is_empty() {
            return;
        }
        let created_at = SystemTime::now();
        let id = format!("evt_{}", Uuid::new_v4());
        let envelope = json!({ "id": id, "type": change.kind, "created_at": timestamp(created_at), "data": change.data });
        let body = Bytes::from(serde_json::to_vec(&envelope).expect("a JSON value serialises"));
        let now = Instant::now();
        let deliveries: Vec<Delivery> = store
            .endpoints
            .iter()
            .filter(|e| e.wants(&change.kind))
            .map(|e| Delivery {
                id: format!("dlv_{}", Uuid::new_v4().simple()),
                endpoint: e.id.clone(),
                state: DeliveryState::Pending,
                due: Some(now),
                tries: 0,
                attempts: Vec::new(),
                was_held: false,
            })
            .collect();
        let seq = store.first_seq + store.events.len() as u64;
        let wake = !deliveries.is_empty();
        if wake {
            store.open.insert(seq);
        }
        let event =
            Emitted { id, kind: change.kind, bundle_id: change.bundle_id, created_at, body, deliveries };
        store.events.push_back(event);
        if store.events.len() > MAX_EVENTS {
            store.events.pop_front();
            let gone = store.first_seq;
            store.open.remove(&gone);
            store.first_seq += 1;
        }
        drop(store);
        if wake {
            self.wake.notify_one();
        }
    }

    /// Enables or disables an endpoint (whoever's); false if there is no such endpoint.
    pub fn set_enabled(&self, id: &str, enabled: bool) -> bool {
        let mut store = lock(&self.store);
        let Some(endpoint) = store.endpoints.iter_mut().find(|e| e.id == id) else { return false };
        endpoint.enabled = enabled;
        true
    }

    /// Forgets every endpoint and event; attempts under way record nothing.
    pub fn reset(&self) {
        let mut store = lock(&self.store);
        *store = Store { generation: store.generation + 1, ..Store::default() };
        self.active.store(false, Ordering::Relaxed);
    }
}
