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
        json!({
            "id": self.id,
            "url": self.url,
            "events": self.events,
            "enabled": self.enabled,
            "created_at": timestamp(self.created_at),
        })
    }
}

/// Filters of `GET /webhooks`: `enabled` (`true`|`false`; another value
/// matches nothing) and `event` (endpoints that get that type: those naming
/// it, and those subscribed to every type).
#[derive(Debug, Default, Clone)]
pub struct EndpointFilter {
    pub enabled: Option<String>,
    pub event: Option<String>,
}

impl EndpointFilter {
    fn matches(&self, endpoint: &Endpoint) -> bool {
        self.enabled.as_deref().is_none_or(|e| e == if endpoint.enabled { "true" } else { "false" })
            && self.event.as_deref().is_none_or(|kind| endpoint.subscribes(kind))
    }
}

/// Filters of `GET /webhooks/{id}/deliveries`: `event_type` (exact) and
/// `success` (`true`|`false`; another value matches nothing).
#[derive(Debug, Default, Clone)]
pub struct DeliveryFilter {
    pub event_type: Option<String>,
    pub success: Option<String>,
}

impl DeliveryFilter {
    fn matches(&self, item: &Value) -> bool {
        self.event_type.as_deref().is_none_or(|t| item["event_type"] == t)
            && self.success.as_deref().is_none_or(|s| match s {
                "true" | "false" => item["success"] == (s == "true"),
                _ => false,
            })
    }
}

impl Webhooks {
    /// The key's endpoints as `GET /webhooks` lists them, newest first.
    pub fn items(&self, owner: usize, filter: &EndpointFilter) -> Vec<Value> {
        let store = lock(&self.store);
        let mine = store.endpoints.iter().rev().filter(|e| e.owner == owner);
        mine.filter(|e| filter.matches(e)).map(Endpoint::item).collect()
    }

    /// `GET /webhooks/{id}`: one of the key's endpoints, its secret included;
    /// `None` if the key has no such endpoint.
    pub fn detail(&self, owner: usize, id: &str) -> Option<Value> {
        let store = lock(&self.store);
        let endpoint = store.endpoints.iter().find(|e| e.id == id && e.owner == owner)?;
        let mut item = endpoint.item();
        item["secret"] = json!(endpoint.secret);
        Some(item)
    }

    /// The deliveries to one of the key's endpoints (`owner` `None`: any
    /// key's), newest first, as `GET /webhooks/{id}/deliveries` lists them;
    /// `None` if there is no such endpoint.
    pub fn delivery_items(
        &self,
        owner: Option<usize>,
        id: &str,
        filter: &DeliveryFilter,
    ) -> Option<Vec<Value>> {
        let store = lock(&self.store);
        store.endpoints.iter().find(|e| e.id == id && owner.is_none_or(|o| e.owner == o))?;
        let now = (Instant::now(), SystemTime::now());
        let items = store.events.iter().rev().flat_map(|event| {
            event.deliveries.iter().filter(|d| d.endpoint == id).map(move |d| delivery_item(event, d, now))
        });
        Some(items.filter(|item| filter.matches(item)).collect())
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

/// One delivery as listed: `success` (a 2xx answered), `status_code` and
/// `error` of the last attempt (`error` the failure: `timeout`, `connection
/// failed`, or `HTTP <status>` for an answer that was not a 2xx), `attempts`
/// made (a duplicated one counts twice: both were sent), and the undocumented
/// `status` (the delivery's state) and `next_attempt_at`.
fn delivery_item(event: &Emitted, d: &Delivery, (now, wall): (Instant, SystemTime)) -> Value {
    let last = d.attempts.last();
    let error = last.and_then(|a| match (a.status, &a.error) {
        (_, Some(error)) => Some(error.clone()),
        (Some(status), None) if !(200..300).contains(&status) => Some(format!("HTTP {status}")),
        _ => None,
    });
    let delivered_at = (d.state == DeliveryState::Delivered)
        .then(|| d.attempts.iter().rev().find(|a| a.status.is_some_and(|s| (200..300).contains(&s))))
        .flatten()
        .map(|a| timestamp(a.at));
    json!({
        "id": d.id,
        "webhook_id": d.endpoint,
        "event_id": event.id,
        "event_type": event.kind,
        "success": d.state == DeliveryState::Delivered,
        "status_code": last.and_then(|a| a.status),
        "attempts": d.attempts.len(),
        "error": error,
        "delivered_at": delivered_at,
        "status": d.state,
        "next_attempt_at": d.due.map(|due| timestamp(wall + due.saturating_duration_since(now))),
        "created_at": timestamp(event.created_at),
    })
}
