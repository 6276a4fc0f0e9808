//! `first_sent_at` is written when a request actually leaves, under the
//! claim's own token, never at the claim: a job claimed and left unsent (the
//! worker killed or stopped while it waited for the key's budget) can still
//! be cancelled and never expires.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tokportal_sync::api::BudgetOptions;
use tokportal_sync::jobs::{Outcome, Replayer, queue, run_next_job};

use super::support::*;
use crate::api_support::{budget_options, client, scripted};

/// What the server saw of one request: when it arrived, and the job's
/// `first_sent_at` in Postgres at that moment.
type Seen = Arc<Mutex<Vec<(DateTime<Utc>, Option<DateTime<Utc>>)>>>;

/// A server answering `POST /bundles` 503 (the outcome stays unknown), and
/// noting for each request what Postgres held for its job when it arrived.
async fn noting_server(
    pool: &PgPool,
    budget: BudgetOptions,
) -> (Replayer, Seen, tokio::task::JoinHandle<std::io::Result<()>>) {
    let seen: Seen = Arc::default();
    let (db, notes) = (pool.clone(), seen.clone());
    let app = axum::Router::new().route(
        "/bundles",
        post(move |headers: HeaderMap| {
            let (db, notes) = (db.clone(), notes.clone());
            async move {
                let arrived = Utc::now();
                let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or_default();
                let first: Option<DateTime<Utc>> = sqlx::query_scalar(
                    "SELECT first_sent_at FROM tokportal.mutation_jobs WHERE idempotency_key = $1",
                )
                .bind(key)
                .fetch_one(&db)
                .await
                .expect("the job of the request");
                notes.lock().unwrap().push((arrived, first));
                let envelope =
                    r#"{"success":false,"error":{"code":"SERVICE_UNAVAILABLE","message":"later"}}"#;
                (StatusCode::SERVICE_UNAVAILABLE, envelope)
            }
        }),
    );
    let (options, server) = scripted(app).await;
    let r = Replayer {
        owner: Owner::new(pool),
        pool: pool.clone(),
        client: client(options, budget),
        settings: settings(),
    };
    (r, seen, server)
}

/// Waits (bounded, failing loudly) until job `id` is claimed.
async fn until_running(pool: &PgPool, id: i64) {
    for _ in 0..1000 {
        if job(pool, id).await.status == "running" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("job {id} was never claimed within 10 s");
}

/// One request now, the next in 100 s: a job claimed after the first waits in the budget.
fn booked_ahead() -> BudgetOptions {
    BudgetOptions { max_wait: Duration::from_secs(600), ..budget_options(0.01, 1) }
}

#[sqlx::test]
async fn a_job_claimed_while_the_budget_is_booked_and_its_worker_killed_stays_unsent(pool: PgPool) {
    let (r, seen, server) = noting_server(&pool, booked_ahead()).await;
    let first = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    assert!(matches!(step(&r).await, Outcome::Retrying { counted: true, .. }));
    assert!(job(&pool, first.id).await.first_sent_at.is_some(), "a real send sets it");
    let waiting = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    let worker = tokio::spawn({
        let r = r.clone();
        async move { run_next_job(&r).await }
    });
    until_running(&pool, waiting.id).await;
    // The worker is killed while it waits for the key's budget, and its lease runs out.
    worker.abort();
    assert!(worker.await.unwrap_err().is_cancelled());
    sqlx::query(
        "UPDATE tokportal.mutation_jobs SET locked_until = now() - interval '1 second' WHERE id = $1",
    )
    .bind(waiting.id)
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(seen.lock().unwrap().len(), 1, "only the first job reached the API");
    let left = job(&pool, waiting.id).await;
    assert_eq!((left.status.as_str(), left.first_sent_at), ("running", None), "never sent");
    let expired = queue::expire_stale(&pool, Duration::ZERO).await.unwrap();
    assert_eq!(expired, vec![first.id], "only the job that was sent can expire");
    let sim = sim().await;
    let out = cli(&pool, &sim, &["jobs", "cancel", &waiting.id.to_string()]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(job(&pool, waiting.id).await.status, "cancelled");
    sim.shutdown().await;
    server.abort();
}

#[sqlx::test]
async fn a_job_released_by_a_stopping_worker_while_the_budget_is_booked_stays_unsent(pool: PgPool) {
    let (r, seen, server) = noting_server(&pool, booked_ahead()).await;
    let stop = CancellationToken::new();
    let r = Replayer { client: r.client.with_cancel(stop.clone()), ..r };
    enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    assert!(matches!(step(&r).await, Outcome::Retrying { counted: true, .. }));
    let waiting = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    let worker = tokio::spawn({
        let r = r.clone();
        async move { run_next_job(&r).await }
    });
    until_running(&pool, waiting.id).await;
    stop.cancel();
    let outcome = worker.await.unwrap().unwrap();
    assert!(matches!(outcome, Some(Outcome::Released { .. })), "{outcome:?}");
    assert_eq!(seen.lock().unwrap().len(), 1, "only the first job reached the API");
    let left = job(&pool, waiting.id).await;
    assert_eq!((left.status.as_str(), left.first_sent_at), ("queued", None), "never sent");
    assert!(!queue::expire_stale(&pool, Duration::ZERO).await.unwrap().contains(&waiting.id));
    let cancelled =
        queue::cancel(&pool, waiting.id).await.unwrap().expect("a job never sent can be cancelled");
    assert_eq!(cancelled.status, "cancelled");
    server.abort();
}

#[sqlx::test]
async fn first_sent_at_is_written_when_the_request_leaves_not_at_the_claim(pool: PgPool) {
    // One request now, the next a second later: the second job waits about a second after its claim.
    let budget = BudgetOptions { max_wait: Duration::from_secs(30), ..budget_options(1.0, 1) };
    let (r, seen, server) = noting_server(&pool, budget).await;
    enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    let waited = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    assert!(matches!(step(&r).await, Outcome::Retrying { counted: true, .. }));
    assert!(matches!(step(&r).await, Outcome::Retrying { counted: true, .. }));
    let claimed_at: DateTime<Utc> = sqlx::query_scalar(
        "SELECT sent_at FROM tokportal.mutation_attempts WHERE job_id = $1 AND attempt = 1",
    )
    .bind(waited.id)
    .fetch_one(&pool)
    .await
    .unwrap();
    let (arrived, first) = seen.lock().unwrap()[1];
    let first = first.expect("first_sent_at was in Postgres before the request reached the API");
    assert!(first <= arrived, "written before the request arrived: {first} > {arrived}");
    let after_claim = first - claimed_at;
    assert!(
        after_claim >= chrono::Duration::milliseconds(500),
        "written when the budget let the request go, not at the claim: {after_claim}"
    );
    let kept = job(&pool, waited.id).await;
    assert_eq!((kept.status.as_str(), kept.first_sent_at), ("queued", Some(first)), "the answer was a 503");
    server.abort();
}

#[sqlx::test]
async fn a_claim_taken_over_cannot_record_a_send(pool: PgPool) {
    let j = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    let lease = Duration::from_secs(60);
    let fresh = settings().fresh_for();
    // The old claim's worker lives on (its session holds) but stopped renewing.
    let (old_worker, new_worker) = (Owner::new(&pool), Owner::new(&pool));
    let old = queue::claim(&old_worker, lease, fresh, None).await.unwrap().expect("the job is due");
    sqlx::query("UPDATE tokportal.mutation_jobs SET locked_until = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();
    let new = queue::claim(&new_worker, lease, fresh, None).await.unwrap().expect("taken over");
    assert!(!queue::record_first_send(&pool, j.id, old.claim).await.unwrap(), "not the current claim");
    assert_eq!(job(&pool, j.id).await.first_sent_at, None);
    assert!(queue::record_first_send(&pool, j.id, new.claim).await.unwrap());
    assert!(job(&pool, j.id).await.first_sent_at.is_some());
}
