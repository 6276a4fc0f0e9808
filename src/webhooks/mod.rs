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

use crate::api::in_flight::InFlight;

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

/// Batches refreshed at once at most: each is one bundle's events, its
/// requests sent in turn, so several batches in flight keep the key's budget
/// busy however slowly the server answers.
const REFRESHES_IN_FLIGHT: usize = 16;

/// Refreshes batches until none is ready, several in flight as the key's
/// budget gives sends (the next batch is claimed once the last one claimed
/// has been given its first send, as for pages read ahead), then sleeps
/// until woken, the next batch's window ends, the poll interval or the stop;
/// prunes old events at start and every [`PRUNE_EVERY`]. At a stop, the
/// refreshes in flight end first (those still waiting for budget release
/// their events untouched).
pub async fn run_with(r: Refresher, limits: Limits, wake: Arc<Notify>, stop: CancellationToken) -> Handled {
    let mut handled = Handled::default();
    let mut prune_at = tokio::time::Instant::now();
    let mut flight: InFlight<anyhow::Result<Outcome>> = InFlight::new(REFRESHES_IN_FLIGHT);
    // Whether a claim may find a batch now: false from an answer of "none
    // ready" (or an error) until the pause after it ends.
    let mut ready = true;
    let mut pause = POLL;
    loop {
        if flight.is_empty() && !stop.is_cancelled() && tokio::time::Instant::now() >= prune_at {
            prune(&r, limits.retention).await;
            prune_at = tokio::time::Instant::now() + PRUNE_EVERY;
        }
        let claiming = ready && !stop.is_cancelled();
        let answer = flight
            .next(|f| {
                while claiming && f.room() {
                    let base = r.clone();
                    f.launch(&r.client, move |client| async move {
                        refresh_once_with(&Refresher { client, ..base }, &limits).await
                    });
                }
            })
            .await;
        match answer {
            Some(Ok(Outcome::Refreshed { events, requests, .. })) => {
                handled.batches += 1;
                handled.events += events as u64;
                handled.requests += u64::from(requests);
            }
            Some(Ok(Outcome::Failed { .. })) => handled.failed += 1,
            Some(Ok(Outcome::Wait(d))) => {
                ready = false;
                pause = pause.min(d);
            }
            Some(Ok(Outcome::Idle)) => ready = false,
            // Only while stopping: the loop ends once nothing is in flight.
            Some(Ok(Outcome::Stopped { .. })) => {}
            Some(Err(e)) => {
                tracing::error!(error = format!("{e:#}"), "webhook refresh failed; trying again shortly");
                ready = false;
            }
            None if stop.is_cancelled() => break,
            None => {
                tokio::select! {
                    () = wake.notified() => {}
                    () = tokio::time::sleep(pause) => {}
                    () = stop.cancelled() => {}
                }
                (ready, pause) = (true, POLL);
            }
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
