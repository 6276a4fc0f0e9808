//! The dispatcher: one task per simulator (on its tracker, stopped by its
//! shutdown) that starts every due delivery as its own task ([`super::attempt`]),
//! one at a time per endpoint and oldest event first, so a slow or failing
//! endpoint delays only its own deliveries. The webhook fault knobs are
//! consumed here, as deliveries start.

use std::sync::Arc;

use tokio::time::Instant;

use super::attempt::{Job, attempt};
use super::view::DeliveryState;
use crate::sim::config::WebhookConfig;
use crate::sim::faults::take;
use crate::sim::lock::lock;
use crate::sim::state::Shared;

/// Runs until the simulator shuts down.
pub async fn run(shared: Arc<Shared>) {
    let http = match client(&shared.config.webhooks) {
        Ok(http) => http,
        Err(e) => {
            tracing::error!(error = %e, "the simulator cannot deliver webhooks: no HTTP client");
            return;
        }
    };
    loop {
        let next = dispatch_once(&shared, &http, Instant::now());
        let sleep = async {
            match next.next_due {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = shared.webhooks.wake.notified() => {}
            () = sleep => {}
            () = shared.shutdown.cancelled() => return,
        }
    }
}

fn client(config: &WebhookConfig) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(config.timeout)
        .retry(reqwest::retry::never())
        .redirect(reqwest::redirect::Policy::none())
        // Receivers are usually on loopback in tests: a proxy from the environment must not get in between.
        .no_proxy()
        .build()
}

/// What one pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dispatched {
    /// Attempts started.
    pub sent: usize,
    /// When the earliest waiting retry is due, if any.
    pub next_due: Option<Instant>,
}

/// Starts an attempt for every idle endpoint's oldest due delivery.
pub fn dispatch_once(shared: &Arc<Shared>, http: &reqwest::Client, now: Instant) -> Dispatched {
    let mut guard = lock(&shared.webhooks.store);
    let store = &mut *guard;
    let mut busy: Vec<String> = store.endpoints.iter().filter(|e| e.busy).map(|e| e.id.clone()).collect();
    let mut jobs = Vec::new();
    let mut next_due: Option<Instant> = None;
    let open: Vec<u64> = store.open.iter().copied().collect();
    for seq in open {
        let index = seq.checked_sub(store.first_seq).and_then(|i| usize::try_from(i).ok());
        let Some(event) = index.and_then(|i| store.events.get_mut(i)) else { continue };
        for delivery in &mut event.deliveries {
            let Some(due) = delivery.due else { continue };
            if busy.contains(&delivery.endpoint) {
                continue;
            }
            if due > now {
                next_due = Some(next_due.map_or(due, |n| n.min(due)));
                continue;
            }
            let Some(endpoint) = store.endpoints.iter_mut().find(|e| e.id == delivery.endpoint) else {
                continue;
            };
            let first = delivery.tries == 0;
            let mut faults = lock(&shared.faults);
            let mut fired = lock(&shared.fired);
            if first && take(&mut faults.webhook_drop_next) {
                fired.webhook_dropped += 1;
                (delivery.state, delivery.due) = (DeliveryState::Dropped, None);
                continue;
            }
            if first && !delivery.was_held && take(&mut faults.webhook_out_of_order_next) {
                fired.webhook_reordered += 1;
                // Released when the endpoint's next delivery is sent, or after the
                // longest retry wait if none follows (it must not wait forever).
                let release = now + shared.config.webhooks.retry_cap;
                (delivery.state, delivery.due, delivery.was_held) =
                    (DeliveryState::Held, Some(release), true);
                next_due = Some(next_due.map_or(release, |n| n.min(release)));
                continue;
            }
            let duplicate = first && take(&mut faults.webhook_duplicate_next);
            let bad_signature = take(&mut faults.webhook_bad_signature_next);
            let late = take(&mut faults.webhook_late_next);
            fired.webhook_duplicated += u64::from(duplicate);
            fired.webhook_bad_signature += u64::from(bad_signature);
            fired.webhook_late += u64::from(late);
            (delivery.state, delivery.due) = (DeliveryState::InFlight, None);
            endpoint.busy = true;
            busy.push(endpoint.id.clone());
            jobs.push(Job {
                generation: store.generation,
                seq,
                endpoint: endpoint.id.clone(),
                url: endpoint.url.clone(),
                secret: endpoint.secret.clone(),
                body: event.body.clone(),
                event_id: event.id.clone(),
                duplicate,
                bad_signature,
                late,
            });
        }
        store.close_if_done(seq);
    }
    drop(guard);
    let sent = jobs.len();
    for job in jobs {
        shared.tracker.spawn(attempt(Arc::clone(shared), http.clone(), job));
    }
    Dispatched { sent, next_due }
}
