//! One delivery: its POST (two when duplicated), signed afresh each time,
//! then its outcome recorded: delivered on a 2xx; else retried after
//! [`WebhookConfig::backoff`](crate::sim::config::WebhookConfig::backoff) of
//! the tries so far (a non-2xx, a timeout, a connection error), or failed
//! after `max_attempts`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use tokio::time::Instant;

use super::sign;
use super::view::{DeliveryState, WebhookAttempt};
use crate::sim::faults::WEBHOOK_LATE_BY_SECS;
use crate::sim::lock::lock;
use crate::sim::state::Shared;

/// One due delivery, taken out of the store to be sent.
pub(super) struct Job {
    pub(super) generation: u64,
    pub(super) seq: u64,
    pub(super) endpoint: String,
    pub(super) url: String,
    pub(super) secret: String,
    pub(super) body: Bytes,
    pub(super) event_id: String,
    pub(super) duplicate: bool,
    pub(super) bad_signature: bool,
    pub(super) late: bool,
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Sends one delivery (twice when duplicated), then records how it went.
pub(super) async fn attempt(shared: Arc<Shared>, http: reqwest::Client, job: Job) {
    let mut attempts = Vec::new();
    for copy in 0..if job.duplicate { 2 } else { 1 } {
        let signed_at = unix_now() - if job.late { WEBHOOK_LATE_BY_SECS } else { 0 };
        let secret = if job.bad_signature { sign::WRONG_SECRET } else { job.secret.as_str() };
        let request = http
            .post(&job.url)
            .header("Content-Type", "application/json")
            .header("TokPortal-Event-Id", &job.event_id)
            .header("TokPortal-Signature", sign::header(secret, signed_at, &job.body))
            .body(job.body.clone());
        let at = SystemTime::now();
        let result = tokio::select! {
            result = request.send() => result,
            () = shared.shutdown.cancelled() => return,
        };
        let (status, error) = match result {
            Ok(response) => (Some(response.status().as_u16()), None),
            Err(e) if e.is_timeout() => (None, Some("timeout".to_string())),
            Err(e) if e.is_connect() => (None, Some("connection failed".to_string())),
            Err(_) => (None, Some("request failed".to_string())),
        };
        let faults = [(copy == 1, "duplicate"), (job.bad_signature, "bad_signature"), (job.late, "late")];
        let faults = faults.into_iter().filter_map(|(on, name)| on.then_some(name)).collect();
        attempts.push(WebhookAttempt { at, signed_at, status, error, faults });
    }
    finish(&shared, job, attempts);
    shared.webhooks.wake.notify_one();
}

/// Records the attempts, schedules a retry or settles the delivery, frees
/// the endpoint and lets go the deliveries it held back.
fn finish(shared: &Shared, job: Job, attempts: Vec<WebhookAttempt>) {
    let config = shared.config.webhooks;
    let mut store = lock(&shared.webhooks.store);
    if store.generation != job.generation {
        return;
    }
    let now = Instant::now();
    let ok = attempts.first().and_then(|a| a.status).is_some_and(|s| (200..300).contains(&s));
    let exists = store.endpoints.iter().any(|e| e.id == job.endpoint);
    if let Some(event) = store.event_mut(job.seq)
        && let Some(delivery) = event.deliveries.iter_mut().find(|d| d.endpoint == job.endpoint)
    {
        delivery.tries += 1;
        delivery.attempts.extend(attempts);
        (delivery.state, delivery.due) = if ok {
            (DeliveryState::Delivered, None)
        } else if !exists {
            (DeliveryState::Cancelled, None)
        } else if delivery.tries >= config.max_attempts {
            (DeliveryState::Failed, None)
        } else {
            (DeliveryState::Pending, Some(now + config.backoff(delivery.tries)))
        };
    }
    store.close_if_done(job.seq);
    if let Some(endpoint) = store.endpoints.iter_mut().find(|e| e.id == job.endpoint) {
        endpoint.busy = false;
    }
    let open: Vec<u64> = store.open.iter().copied().collect();
    for seq in open {
        let Some(event) = store.event_mut(seq) else { continue };
        let held = event.deliveries.iter_mut().filter(|d| d.endpoint == job.endpoint);
        for delivery in held.filter(|d| d.state == DeliveryState::Held) {
            (delivery.state, delivery.due) = (DeliveryState::Pending, Some(now));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::sim::config::WebhookConfig;

    #[test]
    fn retries_wait_1_2_4_seconds_and_so_on_up_to_the_cap() {
        let config = WebhookConfig::default();
        let waits: Vec<u64> = (1..=8).map(|failed| config.backoff(failed).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(config.backoff(u32::MAX), Duration::from_secs(60), "no overflow");
    }
}
