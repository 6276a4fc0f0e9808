//! What a test or a benchmark reads of the webhooks through [`SimServer`]:
//! the endpoints, and every emitted event with its deliveries and attempts.

use serde_json::Value;

use super::read::DeliveryFilter;
use super::view::{Registered, WebhookEndpoint, WebhookEvent};
use crate::sim::handle::SimServer;

impl SimServer {
    /// Registers an endpoint for `key` as `POST /webhooks` does (`events`
    /// empty: every type), without a request; `None` if the key is unknown.
    pub fn register_webhook(&self, key: &str, url: &str, events: &[&str]) -> Option<Registered> {
        let owner = self.shared.keys.get(key)?.index;
        let events = events.iter().map(|e| e.to_string()).collect();
        Some(self.shared.webhooks.register(owner, url, events).0)
    }

    /// The deliveries of an endpoint (whoever's) exactly as
    /// `GET /webhooks/{id}/deliveries` serves them, newest first, unfiltered;
    /// `None` if there is no such endpoint.
    pub fn webhook_deliveries_served(&self, endpoint_id: &str) -> Option<Vec<Value>> {
        self.shared.webhooks.delivery_items(None, endpoint_id, &DeliveryFilter::default())
    }

    /// Enables or disables an endpoint (a disabled one gets no new
    /// deliveries; `GET /webhooks` shows `enabled`). False if there is no such endpoint.
    pub fn set_webhook_enabled(&self, endpoint_id: &str, enabled: bool) -> bool {
        self.shared.webhooks.set_enabled(endpoint_id, enabled)
    }

    /// Every endpoint of every key, in registration order, without secrets.
    pub fn webhook_endpoints(&self) -> Vec<WebhookEndpoint> {
        self.shared.webhooks.endpoints(&self.shared.fingerprints())
    }

    /// Every event emitted since start or reset (the last
    /// [`MAX_EVENTS`](super::store::MAX_EVENTS)), oldest first, each with its
    /// deliveries and their attempts as they stand now.
    pub fn webhook_events(&self) -> Vec<WebhookEvent> {
        self.shared.webhooks.events()
    }
}
