//! Reading the store: what `GET /webhooks` and `GET /webhooks/{id}/deliveries`
//! list (never a secret), and what the handle and the admin endpoints show.

use std::time::SystemTime;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::store::{Delivery, Emitted, Endpoint, Webhooks};
use super::view::{DeliveryState, WebhookDelivery, WebhookEndpoint, WebhookEvent, timestamp};
use crate::sim::lock::lock;

impl Endpoint {
    /// What `GET /webhooks` lists: everything but the secret.
    pub(super) fn item(&self) -> Value {
        json!({ "id": self.id, "url": self.url, "events": self.events, "created_at": timestamp(self.created_at) })
    }
}

impl Webhooks {
    /// The key's endpoints as `GET /webhooks` lists them, newest first.
    pub fn items(&self, owner: usize) -> Vec<Value> {
        let store = lock(&self.store);
        store.endpoints.iter().rev().filter(|e| e.owner == owner).map(Endpoint::item).collect()
    }

    /// The deliveries to one of the key's endpoints, newest first, as
    /// `GET /webhooks/{id}/deliveries` lists them; `None` if it has no such endpoint.
    pub fn delivery_items(&self, owner: usize, id: &str) -> Option<Vec<Value>> {
        let store = lock(&self.store);
        store.endpoints.iter().find(|e| e.id == id && e.owner == owner)?;
        let now = (Instant::now(), SystemTime::now());
        let items = store.events.iter().rev().flat_map(|event| {
            event.deliveries.iter().filter(|d| d.endpoint == id).map(move |d| delivery_item(event, d, now))
        });
        Some(items.collect())
    }

    /// Every event kept, oldest first, with its deliveries and their attempts.
    pub fn events(&self) -> Vec<WebhookEvent> {
        let store = lock(&self.store);
        let (now, wall) = (Instant::now(), SystemTime::now());
        let view = |d: &Delivery| WebhookDelivery {
            id: d.id.clone(),
            endpoint_id: d.endpoint.clone(),
            state: d.state,
            next_attempt: d.due.map(|due| wall + due.saturating_duration_since(now)),
            attempts: d.attempts.clone(),
        };
        let event = |e: &Emitted| WebhookEvent {
            id: e.id.clone(),
            kind: e.kind.clone(),
            bundle_id: Some(e.bundle_id.clone()),
            created_at: e.created_at,
            deliveries: e.deliveries.iter().map(view).collect(),
        };
        store.events.iter().map(event).collect()
    }

    /// Every endpoint, in registration order, with its key's fingerprint (`fingerprints[owner]`).
    pub fn endpoints(&self, fingerprints: &[&str]) -> Vec<WebhookEndpoint> {
        let store = lock(&self.store);
        let view = |e: &Endpoint| WebhookEndpoint {
            id: e.id.clone(),
            key_fingerprint: fingerprints.get(e.owner).copied().unwrap_or_default().to_string(),
            url: e.url.clone(),
            events: e.events.clone(),
            created_at: e.created_at,
        };
        store.endpoints.iter().map(view).collect()
    }
}

fn delivery_item(event: &Emitted, d: &Delivery, (now, wall): (Instant, SystemTime)) -> Value {
    let last = d.attempts.last();
    let delivered_at = (d.state == DeliveryState::Delivered)
        .then(|| d.attempts.iter().rev().find(|a| a.status.is_some_and(|s| (200..300).contains(&s))))
        .flatten()
        .map(|a| timestamp(a.at));
    json!({
        "id": d.id,
        "webhook_id": d.endpoint,
        "event_id": event.id,
        "event_type": event.kind,
        "status": d.state,
        "attempts": d.attempts.len(),
        "last_status_code": last.and_then(|a| a.status),
        "last_error": last.and_then(|a| a.error.clone()),
        "delivered_at": delivered_at,
        "next_attempt_at": d.due.map(|due| timestamp(wall + due.saturating_duration_since(now))),
        "created_at": timestamp(event.created_at),
    })
}
