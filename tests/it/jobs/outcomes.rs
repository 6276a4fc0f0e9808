//! Each outcome of a send, against the simulator: what the job row, the
//! attempts table and the simulator's ledger say afterwards.

use std::time::Duration;

use sqlx::PgPool;
use tokportal_sync::api::{IdempotencyKey, MutationMethod};
use tokportal_sync::jobs::{Outcome, queue, run_next_job};
use tokportal_sync::sim::{DEMO_KEY, SimKey};

use super::support::*;

#[sqlx::test]
async fn a_created_bundle_succeeds_with_its_answer_and_the_credits_charged(pool: PgPool) {
    let sim = sim().await;
    let r = replayer(&pool, &sim);
    let j = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    assert!(matches!(step(&r).await, Outcome::Succeeded { status: 201, replayed: false, .. }));
    let done = job(&pool, j.id).await;
    assert_eq!(done.status, "succeeded");
    assert_eq!(
        (done.response_status, done.replayed, done.credits_charged),
        (Some(201), Some(false), Some(10.0))
    );
    assert_eq!(done.attempts, 1);
    assert!(body(&done)["data"]["id"].is_string());
    assert_eq!(executions(&sim, &j.idempotency_key), 1);
    assert_eq!(attempts(&pool, j.id).await, vec![(Some("succeeded".into()), Some(201), Some(false))]);
    assert!(run_next_job(&r).await.unwrap().is_none(), "nothing else is due");
    sim.shutdown().await;
}

#[sqlx::test]
async fn an_answer_lost_after_execution_is_retried_with_the_same_key_and_replayed(pool: PgPool) {
    let sim = sim().await;
    let r = replayer(&pool, &sim);
    let j = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    sim.update_faults(|f| f.drop_next = 1).unwrap();
    assert!(matches!(step(&r).await, Outcome::Retrying { counted: true, .. }));
    let waiting = job(&pool, j.id).await;
    assert_eq!((waiting.status.as_str(), waiting.attempts), ("queued", 1));
    let due = due_in_secs(&pool, j.id).await;
    assert!((0.5..=3.0).contains(&due), "backoff of the first failure is about backoff_min: {due}");
    assert!(run_next_job(&r).await.unwrap().is_none(), "not due before its backoff");

    make_due(&pool, j.id).await;
    assert!(matches!(step(&r).await, Outcome::Succeeded { replayed: true, .. }));
    let done = job(&pool, j.id).await;
    assert_eq!((done.status.as_str(), done.replayed, done.attempts), ("succeeded", Some(true), 2));
    assert_eq!(done.idempotency_key, j.idempotency_key, "the key is never regenerated");
    assert_eq!(executions(&sim, &j.idempotency_key), 1, "executed once");
    assert_eq!(sim.key_stats(DEMO_KEY).unwrap().credits_debited, 10);
    let sends = attempts(&pool, j.id).await;
    assert_eq!(
        sends,
        vec![(Some("retry".into()), None, None), (Some("succeeded".into()), Some(201), Some(true))]
    );
    sim.shutdown().await;
}

#[sqlx::test]
async fn an_answer_stalled_past_the_client_timeout_is_retried_with_the_same_key(pool: PgPool) {
    let sim = sim().await;
    let r = replayer_with(&pool, &sim, DEMO_KEY, Duration::from_millis(300));
    let j = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    sim.update_faults(|f| {
        f.stall_next = 1;
        f.stall_ms = 10_000;
    })
    .unwrap();
    assert!(matches!(step(&r).await, Outcome::Retrying { counted: true, .. }));
    make_due(&pool, j.id).await;
    assert!(matches!(step(&r).await, Outcome::Succeeded { replayed: true, .. }));
    assert_eq!(executions(&sim, &j.idempotency_key), 1);
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_5xx_is_retried_no_sooner_than_its_retry_after(pool: PgPool) {
    let sim = sim().await;
    let r = replayer(&pool, &sim);
    let j = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    sim.update_faults(|f| {
        f.fail_next = 1;
        f.fail_retry_after_secs = Some(120);
    })
    .unwrap();
    assert!(matches!(step(&r).await, Outcome::Retrying { counted: true, .. }));
    let due = due_in_secs(&pool, j.id).await;
    assert!(due >= 119.0, "Retry-After 120 s is honoured: due in {due}");
    assert_eq!(attempts(&pool, j.id).await, vec![(Some("retry".into()), Some(503), None)]);
    make_due(&pool, j.id).await;
    assert!(matches!(step(&r).await, Outcome::Succeeded { replayed: false, .. }), "a 503 executed nothing");
    assert_eq!(executions(&sim, &j.idempotency_key), 1);
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_key_still_in_progress_is_retried_after_a_short_wait_without_counting_a_failure(pool: PgPool) {
    let sim = sim().await;
    let r = replayer_with(&pool, &sim, DEMO_KEY, Duration::from_millis(300));
    let j = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    sim.update_faults(|f| f.slow_ms = 600_000).unwrap();
    // The first send times out while the API is still executing it…
    assert!(matches!(step(&r).await, Outcome::Retrying { counted: true, .. }));
    make_due(&pool, j.id).await;
    // …so the second one is told the key is in progress.
    assert!(matches!(step(&r).await, Outcome::Retrying { counted: false, .. }));
    let waiting = job(&pool, j.id).await;
    assert_eq!((waiting.attempts, waiting.error_code.as_deref()), (1, Some("IDEMPOTENCY_KEY_IN_PROGRESS")));
    let due = due_in_secs(&pool, j.id).await;
    assert!((4.0..=5.5).contains(&due), "in_progress_delay: {due}");
    sim.update_faults(|f| f.slow_ms = 0).unwrap();
    sim.release_slow();
    make_due(&pool, j.id).await;
    assert!(matches!(step(&r).await, Outcome::Succeeded { replayed: true, .. }));
    assert_eq!(executions(&sim, &j.idempotency_key), 1);
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_key_reused_for_another_request_fails_the_job_and_no_new_key_is_minted(pool: PgPool) {
    let sim = sim().await;
    let r = replayer(&pool, &sim);
    let key = IdempotencyKey::new("order-42").unwrap();
    r.client.mutate(MutationMethod::Post, "/bundles", &key, Some(ACCOUNT_ONLY)).await.unwrap();
    let mut new = new_job(
        "POST",
        "/bundles",
        Some(r#"{"bundle_type":"account_only","platform":"tiktok","country":"FR"}"#),
    );
    new.idempotency_key = Some("order-42".into());
    let j = queue::insert(&pool, &new).await.unwrap();
    assert!(matches!(step(&r).await, Outcome::Failed { code: Some(c), .. } if c == "IDEMPOTENCY_KEY_REUSED"));
    let failed = job(&pool, j.id).await;
    assert_eq!((failed.status.as_str(), failed.response_status), ("failed", Some(409)));
    assert_eq!(failed.idempotency_key, "order-42");
    assert!(failed.last_error.unwrap().contains("never minted automatically"));
    assert_eq!(executions(&sim, "order-42"), 1, "only the first request ran");
    sim.shutdown().await;
}

#[sqlx::test]
async fn other_4xx_answers_fail_the_job_with_their_code_message_and_details(pool: PgPool) {
    let sim = sim_with_keys(vec![SimKey::full("sk_poor", 5)]).await;
    let r = replayer(&pool, &sim);
    let created = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    step(&r).await;
    let id = body(&job(&pool, created.id).await)["data"]["id"].as_str().unwrap().to_string();
    let publish = format!("/bundles/{id}/publish");
    let first = enqueue(&pool, "POST", &publish, None).await;
    let second = enqueue(&pool, "POST", &publish, None).await;
    let missing = enqueue(&pool, "PATCH", "/bundles/no-such-bundle", Some(r#"{"title":"x"}"#)).await;
    let invalid = enqueue(&pool, "POST", "/bundles", Some(r#"{"bundle_type":"account_only"}"#)).await;
    for _ in 0..4 {
        step(&r).await;
    }
    assert_eq!(job(&pool, first.id).await.status, "succeeded");
    let conflict = job(&pool, second.id).await;
    assert_eq!((conflict.status.as_str(), conflict.response_status), ("failed", Some(409)));
    assert_eq!(conflict.error_code.as_deref(), Some("BUNDLE_ALREADY_PUBLISHED"));
    assert_eq!(conflict.error_details.unwrap()["current_status"], "published");
    let not_found = job(&pool, missing.id).await;
    assert_eq!(
        (not_found.response_status, not_found.error_code.as_deref()),
        (Some(404), Some("BUNDLE_NOT_FOUND"))
    );
    let bad = job(&pool, invalid.id).await;
    assert_eq!((bad.response_status, bad.error_code.as_deref()), (Some(400), Some("VALIDATION_ERROR")));
    assert!(bad.last_error.unwrap().contains("platform"), "the message says what was wrong");
    assert_eq!(not_found.error_details.unwrap()["bundle_id"], "no-such-bundle", "a 404 keeps its details");
    assert_eq!(bad.error_details.unwrap()["field"], "platform", "a 400 keeps its details");

    let poor = replayer_with(&pool, &sim, "sk_poor", Duration::from_secs(5));
    let costly = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    assert!(
        matches!(step(&poor).await, Outcome::Failed { code: Some(c), .. } if c == "INSUFFICIENT_CREDITS")
    );
    let refused = job(&pool, costly.id).await;
    assert_eq!((refused.response_status, refused.attempts), (Some(402), 1));
    assert!(refused.last_error.unwrap().contains("\"required\":10"), "the details are kept in the message");
    let details = refused.error_details.expect("a 402 keeps the envelope's details");
    assert_eq!(
        (&details["required"], &details["available"], &details["missing"]),
        (&serde_json::json!(10), &serde_json::json!(5), &serde_json::json!(5)),
        "{details}"
    );
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_refused_key_stops_replay_and_leaves_the_job_untouched(pool: PgPool) {
    let sim = sim_with_keys(vec![SimKey::read_only("sk_reader")]).await;
    let j = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    for (key, code) in [("sk_wrong", "AUTH_INVALID_KEY"), ("sk_reader", "AUTH_INSUFFICIENT_SCOPE")] {
        let r = replayer_with(&pool, &sim, key, Duration::from_secs(5));
        let report = tokportal_sync::jobs::drain(&r, 4, &Default::default()).await.unwrap();
        let error = report.key_refused.expect("the key was refused");
        assert_eq!(error.code(), Some(code));
        assert_eq!(report.succeeded + report.failed + report.retrying, 0);
        let after = job(&pool, j.id).await;
        assert_eq!((after.status.as_str(), after.attempts, after.first_sent_at), ("queued", 0, None));
        assert!(after.run_after <= chrono::Utc::now(), "still due");
    }
    assert!(sim.ledger().is_empty(), "nothing executed");
    let r = replayer(&pool, &sim);
    let report = tokportal_sync::jobs::drain(&r, 4, &Default::default()).await.unwrap();
    assert_eq!(report.succeeded, 2, "with a good key both jobs go through");
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_job_whose_outcome_stayed_unknown_past_the_keys_lifetime_expires_unsent(pool: PgPool) {
    let sim = sim().await;
    let r = replayer(&pool, &sim);
    let j = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    sqlx::query("UPDATE tokportal.mutation_jobs SET first_sent_at = now() - interval '23 hours 1 minute', attempts = 3 WHERE id = $1")
        .bind(j.id)
        .execute(&pool)
        .await
        .unwrap();
    assert!(matches!(step(&r).await, Outcome::Expired { jobs } if jobs == vec![j.id]));
    let expired = job(&pool, j.id).await;
    assert_eq!(expired.status, "expired");
    assert!(expired.last_error.unwrap().contains("never resent automatically"));
    assert!(sim.ledger().is_empty() && attempts(&pool, j.id).await.is_empty(), "never sent");
    assert!(run_next_job(&r).await.unwrap().is_none());
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_crashed_workers_job_is_sent_again_with_the_same_key_once_its_lease_ends(pool: PgPool) {
    let sim = sim().await;
    let r = replayer(&pool, &sim);
    let j = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    // A worker claims the job, sends it, and hangs before recording the
    // answer: its session lives on, so only its lease ends the claim.
    let hung = Owner::new(&pool);
    let dead =
        queue::claim(&hung, Duration::from_secs(60), r.settings.fresh_for(), None).await.unwrap().unwrap();
    let key = IdempotencyKey::new(dead.idempotency_key.clone()).unwrap();
    r.client.mutate(MutationMethod::Post, "/bundles", &key, dead.body.as_deref()).await.unwrap();
    assert!(run_next_job(&r).await.unwrap().is_none(), "the lease holds the job");
    sqlx::query(
        "UPDATE tokportal.mutation_jobs SET locked_until = now() - interval '1 second' WHERE id = $1",
    )
    .bind(j.id)
    .execute(&pool)
    .await
    .unwrap();
    assert!(matches!(step(&r).await, Outcome::Succeeded { replayed: true, .. }));
    assert_eq!(executions(&sim, &j.idempotency_key), 1);
    // The dead worker's late record does not overwrite the outcome.
    let send = queue::SendRecord { outcome: "retry", ..Default::default() };
    let verdict =
        queue::Verdict::Retry { after: Duration::ZERO, counted: true, code: None, error: "late".into() };
    assert!(!queue::record(&pool, j.id, dead.claim, &send, &verdict).await.unwrap());
    assert_eq!(job(&pool, j.id).await.status, "succeeded");
    let sends = attempts(&pool, j.id).await;
    assert_eq!(sends.len(), 2, "both sends are on record: {sends:?}");
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_408_is_retried_later_with_the_same_key(pool: PgPool) {
    let sim = sim().await;
    let r = replayer(&pool, &sim);
    let j = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    sim.update_faults(|f| {
        f.fail_status = 408;
        f.fail_next = 1;
    })
    .unwrap();
    assert!(matches!(step(&r).await, Outcome::Retrying { counted: true, .. }));
    assert_eq!(attempts(&pool, j.id).await, vec![(Some("retry".into()), Some(408), None)]);
    make_due(&pool, j.id).await;
    assert!(matches!(step(&r).await, Outcome::Succeeded { .. }));
    assert_eq!(executions(&sim, &j.idempotency_key), 1);
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_changed_price_fails_the_job_until_a_person_retries_it_with_a_new_key(pool: PgPool) {
    let sim = sim().await;
    let r = replayer(&pool, &sim);
    let j = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    sim.update_faults(|f| f.pricing_changed_next = 1).unwrap();
    assert!(matches!(step(&r).await, Outcome::Failed { code: Some(c), .. } if c == "BUNDLE_PRICING_CHANGED"));
    let failed = job(&pool, j.id).await;
    assert_eq!(failed.status, "failed");
    assert!(failed.last_error.unwrap().contains("worker jobs retry ID --new-key"));
    assert!(run_next_job(&r).await.unwrap().is_none(), "never retried automatically");
    assert!(sim.ledger().is_empty());

    let again = queue::requeue(&pool, j.id, "failed", true).await.unwrap().unwrap();
    assert_ne!(again.idempotency_key, j.idempotency_key);
    assert!(matches!(step(&r).await, Outcome::Succeeded { replayed: false, .. }));
    assert_eq!(sim.ledger().len(), 1);
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_revoked_key_stops_replay_and_leaves_the_job_untouched(pool: PgPool) {
    let sim = sim().await;
    let r = replayer(&pool, &sim);
    let j = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    assert!(sim.revoke(DEMO_KEY));
    match step(&r).await {
        Outcome::KeyRefused { job: id, error } => {
            assert_eq!((id, error.code()), (j.id, Some("AUTH_REVOKED_KEY")));
            assert!(!error.to_string().contains(DEMO_KEY), "the key is never in an error");
        }
        other => panic!("expected the key to be refused, got {other:?}"),
    }
    let after = job(&pool, j.id).await;
    assert_eq!((after.status.as_str(), after.attempts, after.first_sent_at), ("queued", 0, None));
    assert_eq!(attempts(&pool, j.id).await, vec![(Some("key_refused".into()), Some(401), None)]);
    sim.shutdown().await;
}
