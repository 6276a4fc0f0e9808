//! Signed TokPortal webhooks: deliveries verified ([`signature`]), stored
//! once ([`events`], all SQL of `webhook_events`) by the route
//! ([`receiver`]), then turned into targeted refreshes of the mirror
//! ([`refresh`]) by [`run`], a loop woken after each stored event. Each
//! batch is claimed with a lease first, so processes sharing the database
//! never refresh the same events. The periodic walk stays the safety net:
//! not every change emits an event.

pub mod events;
pub mod receiver;
pub mod refresh;
pub mod register;
pub mod signature;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use receiver::Receiver;
pub use refresh::{Limits, Outcome, Refresher, refresh_once, refresh_once_with};

/// Pending events are looked for at least this often: a failed refresh
/// comes due again without a wake-up, and so do events stored by another
/// process or before a restart, and batches whose claimant died.
const POLL: Duration = Duration::from_secs(5);

/// [`run_with`] the default [`Limits`].
pub async fn run(r: Refresher, wake: Arc<Notify>, stop: CancellationToken) {
    run_with(r, Limits::default(), wake, stop).await;
}

/// Refreshes batches until none is ready, then sleeps until woken, the
/// next batch's window ends, the poll interval or the stop.
pub async fn run_with(r: Refresher, limits: Limits, wake: Arc<Notify>, stop: CancellationToken) {
    while !stop.is_cancelled() {
        let pause = match refresh_once_with(&r, &limits).await {
            Ok(Outcome::Refreshed { .. }) => continue,
            Ok(Outcome::Failed { .. }) => Duration::ZERO,
            Ok(Outcome::Wait(d)) => d.min(POLL),
            Ok(Outcome::Idle) => POLL,
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "webhook refresh failed; trying again shortly");
                POLL
            }
        };
        if pause.is_zero() {
            continue;
        }
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(pause) => {}
            () = stop.cancelled() => {}
        }
    }
}
