//! From stored events to the mirror, one batch (the events of one bundle)
//! at a time: claim it, refuse a bundle id that cannot go into a path, fetch
//! and store what its types map to (`apply`, [`super::work::TABLE`]), and
//! record the outcome: refreshed, retried later, or given up after
//! `webhooks.max_attempts`. A batch costs the least requests that make its
//! rows right, whatever the order and the number of its events, because
//! each request reads the current state; they go through the sync client,
//! so through the key's one budget.

use std::time::Duration;

use sqlx::PgPool;

use super::apply::apply;
use super::events::{self, Batch, Pending};
use super::work::{Fetch, Work};
use crate::api::{Client, is_safe_id};
use crate::config::WebhooksConfig;
use crate::db::Owner;

/// How long a claimed batch stays this process's without a heartbeat: the
/// claim is renewed every third of it while the refresh runs (a refresh is
/// at most three requests, each bounded by `api.max_wait_secs` and
/// `api.timeout_secs`), so a live refresh is never taken over. A dead
/// process's batch is picked up by another as soon as its owner session
/// ends (`crate::db::owner`), or, if that session lives on without renewing,
/// once the lease ends. A refresh whose claim ended so may be sent again by
/// another process (they are GETs), but is recorded once (the claim decides).
pub const LEASE: Duration = Duration::from_secs(10);

/// What the configuration decides beyond the [`Refresher`]: how many times
/// an event is refreshed before it is given up (`webhooks.max_attempts`),
/// and how long a handled event is kept (`webhooks.retention_days`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_attempts: u32,
    pub retention: Duration,
}

/// The defaults of the `[webhooks]` keys (a test holds the two together).
impl Default for Limits {
    fn default() -> Self {
        Limits { max_attempts: 8, retention: Duration::from_secs(14 * 86_400) }
    }
}

impl From<&WebhooksConfig> for Limits {
    fn from(c: &WebhooksConfig) -> Self {
        Limits { max_attempts: c.max_attempts, retention: c.retention }
    }
}

/// The refresh side: the pool, the sync client, the coalescing window, and
/// the process's claims: its owner session and the lease ([`LEASE`]).
#[derive(Clone)]
pub struct Refresher {
    pub pool: PgPool,
    pub client: Client,
    /// How long the first event of a bundle waits for others to join it.
    pub window: Duration,
    pub owner: Owner,
    pub lease: Duration,
}

impl Refresher {
    /// A refresher with its own owner session and the default [`LEASE`].
    pub fn new(pool: PgPool, client: Client, window: Duration) -> Refresher {
        let owner = Owner::new(&pool);
        Refresher { pool, client, window, owner, lease: LEASE }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A batch was handled: its events, what was done, requests sent.
    Refreshed {
        events: usize,
        what: String,
        requests: u32,
    },
    /// The batch's refresh failed; its events are tried again later, but
    /// `given_up` of them had failed `webhooks.max_attempts` times and are
    /// marked failed for good.
    Failed {
        events: usize,
        given_up: u64,
    },
    /// The oldest pending batch is still inside its window.
    Wait(Duration),
    Idle,
    /// The worker is stopping and the batch's requests were still waiting
    /// for the key's budget: nothing was sent, the events are released for
    /// the next run, no attempt counted.
    Stopped {
        events: usize,
    },
}

/// Runs `work` while renewing the batch's claim every third of its lease;
/// once the claim is no longer ours, renewing stops.
async fn keep_claim<T>(r: &Refresher, batch: &Batch, work: impl std::future::Future<Output = T>) -> T {
    tokio::pin!(work);
    let mut ours = true;
    loop {
        tokio::select! {
            biased;
            out = &mut work => return out,
            () = tokio::time::sleep(r.lease / 3), if ours => match events::renew(&r.pool, batch, r.lease).await {
                Ok(still) => ours = still,
                Err(e) => tracing::warn!(error = format!("{e:#}"), "failed to renew a webhook claim; trying again"),
            },
        }
    }
}

/// Handles the oldest ready batch, with the default [`Limits`].
pub async fn refresh_once(r: &Refresher) -> anyhow::Result<Outcome> {
    refresh_once_with(r, &Limits::default()).await
}

/// Handles the oldest ready batch.
pub async fn refresh_once_with(r: &Refresher, limits: &Limits) -> anyhow::Result<Outcome> {
    let batch = match events::claim(&r.pool, &r.owner, r.window, r.lease).await? {
        Pending::Ready(batch) => batch,
        Pending::Wait(d) => return Ok(Outcome::Wait(d)),
        Pending::None => return Ok(Outcome::Idle),
    };
    let work = Work::of(&batch.types);
    let fetches = work.fetch != Fetch::default();
    if let Some(id) = batch.bundle_id.as_deref().filter(|id| fetches && !is_safe_id(id)) {
        return refuse(r, &batch, id).await;
    }
    if fetches {
        // One database mirrors one account: a key of another is refused before anything is written.
        // The check runs under the claim; when it fails the batch goes back untouched (no attempt
        // counted: a key of another account is the configuration's fault, not the events').
        let checked =
            keep_claim(r, &batch, crate::mirror::account::ensure_if_bound(&r.pool, &r.client)).await;
        if let Err(e) = checked {
            events::release(&r.pool, &batch).await?;
            if crate::api::ApiError::cancelled_in(&e) {
                return Ok(Outcome::Stopped { events: batch.ids.len() });
            }
            return Err(e.context("webhook refresh: the events are back in the queue, untouched"));
        }
    }
    let applied = apply(&r.pool, &r.client, &batch, work);
    match keep_claim(r, &batch, applied).await {
        Ok((what, requests)) => {
            // Counted once handled: a batch that fails and is retried counts once, when it succeeds.
            crate::meter::webhook_batch(batch.ids.len(), work.unknown);
            tracing::info!(
                bundle = batch.bundle_id.as_deref(),
                events = batch.ids.len(),
                requests,
                "webhook refresh: {what}"
            );
            Ok(Outcome::Refreshed { events: batch.ids.len(), what, requests })
        }
        Err(e) if crate::api::ApiError::cancelled_in(&e) => {
            events::release(&r.pool, &batch).await?;
            tracing::info!(
                bundle = batch.bundle_id.as_deref(),
                "stopping: webhook refresh left for the next run"
            );
            Ok(Outcome::Stopped { events: batch.ids.len() })
        }
        Err(e) => {
            let text = format!("{e:#}");
            let given_up = events::mark_failed(&r.pool, &batch, &text, limits.max_attempts).await?;
            if given_up > 0 {
                tracing::error!(
                    bundle = batch.bundle_id.as_deref(),
                    error = %text,
                    given_up,
                    "webhook refresh failed webhooks.max_attempts times; the events are marked failed \
                     (tokportal.webhook_events.failed_at) and left to the walk"
                );
                crate::meter::webhook_given_up(given_up);
            } else {
                tracing::warn!(bundle = batch.bundle_id.as_deref(), error = %text, "webhook refresh failed; retried later");
            }
            Ok(Outcome::Failed { events: batch.ids.len(), given_up })
        }
    }
}

/// An event naming a bundle id that cannot be put into a path: given up at
/// once, with no request, the reason kept.
async fn refuse(r: &Refresher, batch: &Batch, id: &str) -> anyhow::Result<Outcome> {
    let excerpt: String = id.chars().take(80).collect();
    let error = format!(
        "the event's bundle id {excerpt:?} is not a single safe path segment (letters, digits, - _ . ~); \
         nothing was requested"
    );
    let given_up = events::give_up(&r.pool, batch, &error).await?;
    tracing::error!(events = batch.ids.len(), error = %error, "webhook events refused");
    crate::meter::webhook_given_up(given_up);
    Ok(Outcome::Failed { events: batch.ids.len(), given_up })
}
