//! Signed TokPortal webhooks: deliveries verified ([`signature`]), stored
//! once ([`events`], all SQL of `webhook_events`) by the route
//! ([`receiver`]), then turned into targeted refreshes of the mirror by
//! [`run`], a loop woken after each stored event: [`refresh`] claims one
//! batch and records its outcome, `apply` sends its requests and hands each
//! answer to the mirror's refresh call (`mirror::refresh`, the only way this
//! module changes the mirror), [`work`] says what each type fetches, and
//! [`register`] sends `POST /webhooks` once. Each batch is claimed with a
//! lease first, so processes sharing the database never refresh the same
//! events. The periodic walk stays the safety net: not every change emits an
//! event.

mod apply;
pub mod events;
pub mod receiver;
pub mod refresh;
pub mod register;
pub mod signature;
pub mod work;

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

/// Handled events past `webhooks.retention_days` are pruned at start and
/// this often.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Rows one prune statement deletes, so a large backlog never holds long locks.
const PRUNE_BATCH: i64 = 1000;

/// What a run handled until it stopped (the staleness benchmark reads it:
/// the refreshes' own requests, apart from everything else the key sent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Handled {
    /// Batches refreshed, their events, and the requests they cost.
    pub batches: u64,
    pub events: u64,
    pub requests: u64,
    /// Refreshes that failed (each retried later or given up).
    pub failed: u64,
}

/// [`run_with`] the default [`Limits`].
pub async fn run(r: Refresher, wake: Arc<Notify>, stop: CancellationToken) -> Handled {
    run_with(r, Limits::default(), wake, stop).await
}

/// Refreshes batches until none is ready, then sleeps until woken, the
/// next batch's window ends, the poll interval or the stop; prunes old
/// events at start and every [`PRUNE_EVERY`].
pub async fn run_with(r: Refresher, limits: Limits, wake: Arc<Notify>, stop: CancellationToken) -> Handled {
    let mut handled = Handled::default();
    let mut prune_at = tokio::time::Instant::now();
    while !stop.is_cancelled() {
        if tokio::time::Instant::now() >= prune_at {
            prune(&r, limits.retention).await;
            prune_at = tokio::time::Instant::now() + PRUNE_EVERY;
        }
        let pause = match refresh_once_with(&r, &limits).await {
            Ok(Outcome::Refreshed { events, requests, .. }) => {
                handled.batches += 1;
                handled.events += events as u64;
                handled.requests += u64::from(requests);
                continue;
            }
            Ok(Outcome::Failed { .. }) => {
                handled.failed += 1;
                Duration::ZERO
            }
            Ok(Outcome::Wait(d)) => d.min(POLL),
            Ok(Outcome::Idle) => POLL,
            // Only while stopping: the loop ends.
            Ok(Outcome::Stopped { .. }) => continue,
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
    handled
}

async fn prune(r: &Refresher, retention: Duration) {
    let mut pruned = 0;
    loop {
        match events::prune(&r.pool, retention, PRUNE_BATCH).await {
            Ok(n) => {
                pruned += n;
                if n < PRUNE_BATCH as u64 {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "pruning old webhook events failed; trying again later"
                );
                break;
            }
        }
    }
    if pruned > 0 {
        tracing::info!(pruned, "pruned webhook events older than webhooks.retention_days");
    }
}
