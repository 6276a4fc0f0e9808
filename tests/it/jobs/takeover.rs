//! A claim ends as soon as its worker dies, and never while its worker
//! lives: a `worker replay` killed mid-send leaves its job to another worker
//! at once, long before its (600 s) lease would end (resent with the same
//! key, executed once), while a live worker's send that outlasts several
//! leases keeps its job.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokportal_sync::jobs::{Outcome, Replayer, run_next_job};
use tokportal_sync::sim::{DEMO_KEY, SimServer};

use super::support::*;
use crate::helpers::database_url;

/// `worker replay` as a child, with a 600 s lease and the default API timeout.
fn spawn_replay(url: &str, sim: &SimServer, dir: &std::path::Path) -> Child {
    let base = sim.base_url().to_string();
    Command::new(env!("CARGO_BIN_EXE_worker"))
        .arg("replay")
        .current_dir(dir)
        .env_clear()
        .envs([
            ("DATABASE_URL", url),
            ("TOKPORTAL_API_KEY", DEMO_KEY),
            ("TOKPORTAL__API__BASE_URL", base.as_str()),
            ("TOKPORTAL__API__RATE_PER_SECOND", "10000"),
            ("TOKPORTAL__API__BURST", "10000"),
            ("TOKPORTAL__JOBS__LEASE_SECS", "600"),
            ("TOKPORTAL__LOG__LEVEL", "error"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the worker starts")
}

/// Waits until `done` holds, polling every 20 ms; panics after `limit`.
async fn until<F, Fut>(limit: Duration, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !done().await {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[sqlx::test]
async fn a_job_of_a_worker_killed_mid_send_is_taken_over_long_before_its_lease_ends_under_the_same_key(
    pool: PgPool,
) {
    let sim = sim().await;
    let j = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    // The API holds the send: the worker is killed while it is in flight.
    sim.update_faults(|f| f.slow_ms = 600_000).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_replay(&database_url(&pool).await, &sim, dir.path());
    until(Duration::from_secs(20), "the worker sends the job", || async {
        sim.key_stats(DEMO_KEY).unwrap().in_flight >= 1
    })
    .await;
    let r = replayer(&pool, &sim);
    assert!(run_next_job(&r).await.unwrap().is_none(), "the live worker's claim holds the job");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let killed = Instant::now();
    sim.update_faults(|f| f.slow_ms = 0).unwrap();
    sim.release_slow();

    // Another worker takes the job over as soon as Postgres ended the dead
    // one's session: a bound on the wait only, a tenth of the dead claim's lease.
    let deadline = killed + Duration::from_secs(60);
    let mut outcome = run_next_job(&r).await.expect("the step runs");
    while outcome.is_none() {
        assert!(Instant::now() < deadline, "the job was not taken over within {:?}", deadline - killed);
        tokio::time::sleep(Duration::from_millis(20)).await;
        outcome = run_next_job(&r).await.expect("the step runs");
    }
    let takeover = killed.elapsed();
    println!("takeover {:.2} s after the SIGKILL", takeover.as_secs_f64());
    // The resend carries the job's key: the API replays (or is still finishing) the first send.
    loop {
        match outcome.take().expect("a step ran") {
            Outcome::Succeeded { .. } => break,
            Outcome::Retrying { .. } => {
                make_due(&pool, j.id).await;
                outcome = Some(step(&r).await);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(job(&pool, j.id).await.status, "succeeded");
    assert_eq!((executions(&sim, &j.idempotency_key), sim.ledger().len()), (1, 1), "executed once");
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_live_workers_send_outlasting_its_lease_is_never_taken_over(pool: PgPool) {
    let sim = sim().await;
    let j = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    // A 1 s lease, a send of 3 s: the live worker's session and heartbeat keep the claim.
    let short = |r: Replayer| Replayer {
        settings: tokportal_sync::jobs::Settings { lease: Duration::from_secs(1), ..r.settings },
        ..r
    };
    let live = short(replayer_with(&pool, &sim, DEMO_KEY, Duration::from_secs(10)));
    let other = short(replayer(&pool, &sim));
    sim.update_faults(|f| f.slow_ms = 3000).unwrap();
    let sending = tokio::spawn(async move { run_next_job(&live).await });
    until(Duration::from_secs(60), "the live worker sends the job", || async {
        sim.key_stats(DEMO_KEY).unwrap().in_flight >= 1
    })
    .await;
    let (first_try, mut last_try) = (Instant::now(), Instant::now());
    while !sending.is_finished() {
        let taken = run_next_job(&other).await.expect("the step runs");
        assert!(taken.is_none(), "another worker took over a live send: {taken:?}");
        last_try = Instant::now();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The other worker kept trying for longer than one lease of the live claim.
    let tried = last_try - first_try;
    assert!(tried > Duration::from_secs(1), "the other worker tried for {tried:?} only");
    let outcome = sending.await.unwrap().expect("the step runs");
    assert!(matches!(outcome, Some(Outcome::Succeeded { replayed: false, .. })), "{outcome:?}");
    assert_eq!(attempts(&pool, j.id).await.len(), 1, "one send");
    assert_eq!(executions(&sim, &j.idempotency_key), 1);
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_send_whose_workers_session_was_lost_may_be_sent_again_but_executes_once(pool: PgPool) {
    let sim = sim().await;
    let j = enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    let live = replayer_with(&pool, &sim, DEMO_KEY, Duration::from_secs(60));
    let other = replayer(&pool, &sim);
    sim.update_faults(|f| f.slow_ms = 600_000).unwrap();
    let sending = tokio::spawn({
        let live = live.clone();
        async move { run_next_job(&live).await }
    });
    until(Duration::from_secs(60), "the live worker sends the job", || async {
        sim.key_stats(DEMO_KEY).unwrap().in_flight >= 1
    })
    .await;
    assert!(run_next_job(&other).await.unwrap().is_none(), "the live claim holds");
    // The server ends the live worker's owner session; the worker and its send go on.
    let key = live.owner.key().await.expect("the live worker's session is open");
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_locks
         WHERE locktype = 'advisory' AND classid = 1953459056 AND objid = $1::int::oid AND objsubid = 2",
    )
    .bind(key)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(ended, vec![true]);
    // Its claim ended with the session: another worker sends the job again,
    // under the same key, while the first send is still running.
    let mut outcome = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while outcome.is_none() {
        assert!(Instant::now() < deadline, "the job was not taken over after the session ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
        outcome = run_next_job(&other).await.unwrap();
    }
    assert!(matches!(outcome, Some(Outcome::Retrying { counted: false, .. })), "{outcome:?}");
    assert_eq!(job(&pool, j.id).await.error_code.as_deref(), Some("IDEMPOTENCY_KEY_IN_PROGRESS"));
    sim.update_faults(|f| f.slow_ms = 0).unwrap();
    sim.release_slow();
    let first = sending.await.unwrap().unwrap();
    assert!(matches!(first, Some(Outcome::Superseded { .. })), "{first:?}");
    make_due(&pool, j.id).await;
    assert!(matches!(step(&other).await, Outcome::Succeeded { replayed: true, .. }));
    assert_eq!((executions(&sim, &j.idempotency_key), sim.ledger().len()), (1, 1), "executed once");
    sim.shutdown().await;
}
