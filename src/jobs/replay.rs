//! One job, start to end: claim it (committed, on the process's owner
//! session, so the claim ends the moment the process dies), send it outside any
//! transaction through the key's budget with its persisted idempotency key,
//! classify the answer, record it if the claim is still ours.
//! [`run_next_job`] is the step loops, commands and tests call.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use serde_json::Value;
use sqlx::PgPool;
use tracing::Instrument;

use super::classify::{self, Class};
use super::queue::{self, Claimed, SendRecord, Verdict};
use super::{IN_PROGRESS_MAX_DELAY, Settings, heartbeat};
use crate::api::{ApiError, ApiResponse, Client, IdempotencyKey, MutationMethod};
use crate::db::Owner;

/// What sends the jobs: the pool holding the queue, the (write) client, the
/// settings, and the session the process's claims are tied to (one per
/// process, shared with the webhook refresher: see `crate::db::owner`).
#[derive(Clone)]
pub struct Replayer {
    pub pool: PgPool,
    pub client: Client,
    pub settings: Settings,
    pub owner: Owner,
}

/// What [`run_next_job`] did.
#[derive(Debug)]
pub enum Outcome {
    Succeeded {
        job: i64,
        status: u16,
        replayed: bool,
    },
    /// Queued again, due in `after`; `counted` when it was a failed attempt.
    Retrying {
        job: i64,
        after: Duration,
        counted: bool,
    },
    Failed {
        job: i64,
        code: Option<String>,
    },
    /// No due job could be claimed, but these jobs' outcome was unknown for
    /// too long: they were marked expired.
    Expired {
        jobs: Vec<i64>,
    },
    /// The API refused the key: the job is back in the queue as it was, and
    /// replay must stop until the key is fixed.
    KeyRefused {
        job: i64,
        error: ApiError,
    },
    /// The lease ended during the send and the job was claimed again: this
    /// outcome was not recorded (the attempt was).
    Superseded {
        job: i64,
    },
    /// The worker is stopping and the job was still waiting for the key's
    /// budget: not sent, back in the queue as it was before the claim.
    Released {
        job: i64,
    },
}

/// Claims the next due job and sends it; `None` when no job is due.
pub async fn run_next_job(r: &Replayer) -> anyhow::Result<Option<Outcome>> {
    run_job(r, None).await
}

/// Sends job `id` if it is due (and claimable: not waiting behind an earlier
/// job of its `ordering_key`), and no other: what a command that enqueued one
/// mutation of its own runs. `None` when it is not due.
pub async fn run_one_job(r: &Replayer, id: i64) -> anyhow::Result<Option<Outcome>> {
    run_job(r, Some(id)).await
}

async fn run_job(r: &Replayer, only: Option<i64>) -> anyhow::Result<Option<Outcome>> {
    use anyhow::Context;
    let fresh_for = r.settings.fresh_for();
    let claimed =
        queue::claim(&r.owner, r.settings.lease, fresh_for, only).await.context("Failed to claim a job")?;
    let Some(job) = claimed else {
        let expired = queue::expire_stale(&r.pool, fresh_for).await.context("Failed to expire stale jobs")?;
        if expired.is_empty() {
            return Ok(None);
        }
        tracing::warn!(jobs = ?expired, "jobs expired: their outcome stayed unknown past the key's lifetime");
        return Ok(Some(Outcome::Expired { jobs: expired }));
    };
    let span = tracing::info_span!(
        "job",
        job.id = job.id,
        job.attempt = job.claim,
        api.status = tracing::field::Empty
    );
    send_and_record(r, job).instrument(span).await.map(Some)
}

async fn send_and_record(r: &Replayer, job: Claimed) -> anyhow::Result<Outcome> {
    use anyhow::Context;
    let started = Instant::now();
    let renew = || async {
        let renewed = queue::renew(&r.pool, job.id, job.claim, r.settings.lease).await;
        renewed.with_context(|| format!("Failed to renew the claim of job {}", job.id))
    };
    let result = heartbeat::while_renewing(r.settings.heartbeat_every(), renew, send(r, &job)).await;
    let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    let (send, verdict, outcome) = judge(&r.settings, &job, result);
    if let Some(status) = send.http_status {
        tracing::Span::current().record("api.status", status);
    }
    let send = SendRecord { duration_ms, ..send };
    let current = queue::record(&r.pool, job.id, job.claim, &send, &verdict)
        .await
        .with_context(|| format!("Failed to record the outcome of job {}", job.id))?;
    if !current {
        tracing::warn!("the lease ended during the send and the job was claimed again; outcome not recorded");
        return Ok(Outcome::Superseded { job: job.id });
    }
    match &outcome {
        Outcome::Succeeded { replayed, .. } => tracing::info!(replayed, "job succeeded"),
        Outcome::Retrying { after, .. } => {
            tracing::warn!(
                error = send.error.as_deref(),
                retry_in_ms = after.as_millis() as u64,
                "job will be retried"
            )
        }
        Outcome::Failed { .. } => tracing::warn!(error = send.error.as_deref(), "job failed"),
        Outcome::Released { .. } => tracing::info!("stopping: the job was not sent and is back in the queue"),
        _ => {}
    }
    Ok(outcome)
}

/// The send itself, bounded so a hung send cannot hold its job forever.
async fn send(r: &Replayer, job: &Claimed) -> Result<ApiResponse, ApiError> {
    let request = format!("{} {}", job.method, job.path);
    let invalid = |message: String| ApiError::Invalid { request: request.clone(), message };
    let method: MutationMethod = job.method.parse().map_err(|e: anyhow::Error| invalid(e.to_string()))?;
    let key = IdempotencyKey::new(job.idempotency_key.as_str()).map_err(|e| invalid(e.to_string()))?;
    // Checked again before every send: a row inserted around the table's checks never met them.
    super::validate::check_sendable(method, &job.path).map_err(|e| invalid(format!("not sent: {e}")))?;
    let deadline = r.settings.send_timeout;
    let before_send = || record_first_send(&r.pool, job);
    let send = r.client.mutate_with(method, &job.path, &key, job.body.as_deref(), &before_send);
    match tokio::time::timeout(deadline, send).await {
        Ok(result) => result,
        Err(_) => Err(ApiError::Retryable {
            request,
            status: None,
            reason: format!("no answer within {deadline:.1?}, the longest a send may take"),
            request_id: String::new(),
            retry_after: None,
        }),
    }
}

/// The step the client runs right before each attempt leaves: the job's
/// `first_sent_at`, written under this claim only. An error keeps the request
/// unsent (the write failed, or the claim was taken over).
fn record_first_send<'a>(
    pool: &'a PgPool,
    job: &'a Claimed,
) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>> {
    Box::pin(async move {
        let ours = queue::record_first_send(pool, job.id, job.claim).await?;
        anyhow::ensure!(ours, "job {} was claimed again by another worker", job.id);
        Ok(())
    })
}

/// The attempt's record, the job's verdict and the step's outcome.
fn judge(
    s: &Settings,
    job: &Claimed,
    result: Result<ApiResponse, ApiError>,
) -> (SendRecord, Verdict, Outcome) {
    let id = job.id;
    let e = match result {
        Ok(response) => {
            let credits = credits_charged(&response.body);
            let body = (!response.body.is_null()).then(|| response.body.to_string());
            let send = SendRecord {
                http_status: Some(i32::from(response.status)),
                replayed: Some(response.replayed),
                request_id: Some(response.request_id.clone()),
                outcome: "succeeded",
                ..SendRecord::default()
            };
            let verdict = Verdict::Succeeded {
                status: i32::from(response.status),
                body,
                replayed: response.replayed,
                credits_charged: credits,
            };
            return (
                send,
                verdict,
                Outcome::Succeeded { job: id, status: response.status, replayed: response.replayed },
            );
        }
        Err(e) => e,
    };
    let status = classify::status_of(&e);
    let code = e.code().map(str::to_string);
    let mut send = SendRecord {
        http_status: status.map(i32::from),
        error_code: code.clone(),
        request_id: classify::request_id_of(&e).map(str::to_string),
        error: Some(e.to_string()),
        ..SendRecord::default()
    };
    match classify::classify(&e) {
        Class::Retry { at_least } => {
            let after = backoff(s, job.attempts).max(at_least.unwrap_or_default()).min(s.longest_wait());
            send.outcome = "retry";
            let verdict = Verdict::Retry { after, counted: true, code, error: e.to_string() };
            (send, verdict, Outcome::Retrying { job: id, after, counted: true })
        }
        Class::Wait { after } => {
            let in_progress = code.as_deref() == Some("IDEMPOTENCY_KEY_IN_PROGRESS");
            let after = match after {
                Some(after) => after,
                None if in_progress => in_progress_backoff(s, job.in_progress_answers),
                None => s.in_progress_delay,
            };
            let after = after.min(s.longest_wait());
            send.outcome = "wait";
            let verdict = Verdict::Retry { after, counted: false, code, error: e.to_string() };
            (send, verdict, Outcome::Retrying { job: id, after, counted: false })
        }
        Class::Failed { message } => {
            send.outcome = "failed";
            // The envelope's `details` of any failure (409, 400, 402, 404...).
            let details = e.details().cloned();
            let verdict = Verdict::Failed {
                status: status.map(i32::from),
                code: code.clone(),
                error: message,
                details,
            };
            (send, verdict, Outcome::Failed { job: id, code })
        }
        Class::KeyRefused => {
            send.outcome = "key_refused";
            let verdict = Verdict::Release { first_sent_at: job.previous_first_sent_at };
            (send, verdict, Outcome::KeyRefused { job: id, error: e })
        }
        Class::NotSent => {
            send.outcome = "not_sent";
            let verdict = Verdict::Release { first_sent_at: job.previous_first_sent_at };
            (send, verdict, Outcome::Released { job: id })
        }
    }
}

/// `credits_charged` of a creation's answer, as exact decimal text.
fn credits_charged(body: &Value) -> Option<String> {
    match body.get("credits_charged") {
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// The wait after the `answers`-th `IDEMPOTENCY_KEY_IN_PROGRESS` (0-based):
/// `in_progress_delay`, doubling up to [`IN_PROGRESS_MAX_DELAY`] (or the
/// delay itself when it is longer), so a send that stays in progress for
/// hours costs a few requests an hour, not one every few seconds.
pub fn in_progress_backoff(s: &Settings, answers: i32) -> Duration {
    let cap = IN_PROGRESS_MAX_DELAY.max(s.in_progress_delay);
    let doublings = u32::try_from(answers).unwrap_or(0).min(20);
    s.in_progress_delay.saturating_mul(1 << doublings).min(cap)
}

/// The delay after the `attempts`-th failed attempt (0-based): exponential
/// from `backoff_min` to `backoff_max`, with jitter, so workers that failed
/// together do not come back together.
pub fn backoff(s: &Settings, attempts: i32) -> Duration {
    let n = usize::try_from(attempts).unwrap_or(0).min(64);
    ExponentialBuilder::default()
        .with_min_delay(s.backoff_min)
        .with_max_delay(s.backoff_max)
        .with_jitter()
        .with_max_times(n + 1)
        .build()
        .nth(n)
        .unwrap_or(s.backoff_max)
        .min(s.backoff_max)
}
