//! The crash test: `worker replay` as child processes (three at a time, as
//! replicas), one killed with SIGKILL at random moments (at least 20 times)
//! and restarted, against a simulator that
//! drops answers after executing (10%), answers 5xx (5%) and stalls past the
//! client's timeout (5%). In the end every job executed exactly once, and the
//! credits debited are the sum of the jobs' prices. The same scenario without
//! kills (ignored: `cargo nextest run --locked --test it --run-ignored all
//! jobs::crash`) is the time the crash test is measured against.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokportal_sync::jobs::queue;
use tokportal_sync::sim::rng::Rng;
use tokportal_sync::sim::{self, DEMO_KEY, FaultTarget, Faults, SimConfig, SimKey};

use super::support::new_job;
use crate::helpers::database_url;

const JOBS: usize = 200;
const KILLS: usize = 20;
const WORKERS: usize = 3;

/// A creation and its price in the simulator (account 10, video slot 2, edit slot 1).
fn creation(rng: &mut Rng) -> (String, i64) {
    let videos = rng.between(1, 5) as i64;
    let edits = rng.between(0, 3) as i64;
    match rng.below(3) {
        0 => (r#"{"bundle_type":"account_only","platform":"tiktok","country":"US"}"#.into(), 10),
        1 => (
            format!(
                r#"{{"bundle_type":"account_and_videos","platform":"instagram","country":"FR","videos_quantity":{videos},"edits_quantity":{edits}}}"#
            ),
            10 + 2 * videos + edits,
        ),
        _ => (
            format!(
                r#"{{"bundle_type":"videos_only","platform":"tiktok","country":"DE","videos_quantity":{videos}}}"#
            ),
            2 * videos,
        ),
    }
}

fn spawn(url: &str, base: &str, dir: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_worker"))
        .arg("replay")
        .current_dir(dir)
        .env_clear()
        .envs([
            ("DATABASE_URL", url),
            // TLS as sqlx negotiates it by default (`prefer`); CRASH_PGSSLMODE
            // measures another mode.
            ("PGSSLMODE", std::env::var("CRASH_PGSSLMODE").as_deref().unwrap_or("prefer")),
            ("TOKPORTAL_API_KEY", DEMO_KEY),
            ("TOKPORTAL__API__BASE_URL", base),
            // Stalls (3 s) outlast the client's timeout.
            ("TOKPORTAL__API__TIMEOUT_SECS", "0.5"),
            ("TOKPORTAL__API__MAX_WAIT_SECS", "1"),
            // The simulator's rate limit is off: the worker's own budget must not pace either.
            ("TOKPORTAL__API__RATE_PER_SECOND", "10000"),
            ("TOKPORTAL__API__BURST", "10000"),
            // A killed worker's claims end with its Postgres session, at once:
            // no kill waits for a lease (a wait of 600 s would fail the test).
            ("TOKPORTAL__JOBS__LEASE_SECS", "600"),
            ("TOKPORTAL__JOBS__CONCURRENCY", "4"),
            ("TOKPORTAL__JOBS__BACKOFF_MIN_SECS", "0.05"),
            ("TOKPORTAL__JOBS__BACKOFF_MAX_SECS", "0.4"),
            ("TOKPORTAL__JOBS__IN_PROGRESS_DELAY_SECS", "0.2"),
            ("TOKPORTAL__LOG__LEVEL", "error"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the worker starts")
}

async fn scalar(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

const UNFINISHED: &str = "SELECT count(*) FROM tokportal.mutation_jobs WHERE status IN ('queued', 'running')";
const SENDS: &str = "SELECT count(*) FROM tokportal.mutation_attempts";
const IN_PROGRESS: &str =
    "SELECT count(*) FROM tokportal.mutation_attempts WHERE error_code = 'IDEMPOTENCY_KEY_IN_PROGRESS'";

#[sqlx::test]
async fn replay_killed_at_random_moments_executes_every_job_exactly_once(pool: PgPool) {
    scenario(pool, KILLS).await;
}

/// The crash test's work without its kills: what its wall time is compared with.
#[sqlx::test]
#[ignore = "a benchmark: the crash test's scenario without kills"]
async fn replay_of_the_crash_scenario_without_kills(pool: PgPool) {
    scenario(pool, 0).await;
}

/// 200 jobs through `worker replay` under the simulator's faults, killed at
/// least `kills` times (and at most 5 more), restarted until every job is done.
async fn scenario(pool: PgPool, kills_wanted: usize) {
    let started = Instant::now();
    // CRASH_SEED replays a run (and lets a benchmark give both variants the same faults).
    let seed = match std::env::var("CRASH_SEED") {
        Ok(seed) => seed.parse().expect("CRASH_SEED is a number"),
        Err(_) => {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
        }
    };
    println!("seed {seed}");
    let mut rng = Rng::new(seed);
    let faults = Faults {
        target: FaultTarget::Writes,
        drop_rate: 0.10,
        fail_rate: 0.05,
        stall_rate: 0.05,
        stall_ms: 3000,
        ..Faults::default()
    };
    let config = SimConfig {
        seed,
        bundles: 10,
        rate_limit: false,
        keys: vec![SimKey::full(DEMO_KEY, 1_000_000)],
        faults,
        ..SimConfig::default()
    };
    let sim = sim::start(config).await.unwrap();
    let (url, base) = (database_url(&pool).await, sim.base_url().to_string());
    let dir = tempfile::tempdir().unwrap();

    let mut price = HashMap::new();
    for _ in 0..JOBS {
        let (body, cost) = creation(&mut rng);
        let job = queue::insert(&pool, &new_job("POST", "/bundles", Some(&body))).await.unwrap();
        price.insert(job.idempotency_key, cost);
    }

    // WORKERS processes at a time, as replicas would run: a killed one is
    // restarted while the other goes on, so the time a kill costs is what it
    // loses (its sends in flight), not a process start.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut workers: Vec<Option<Child>> = (0..WORKERS).map(|_| None).collect();
    let (mut kills, mut runs) = (0, 0);
    // Kill after a random number of further sends, i.e. at a random point of the work.
    let mut next_kill = scalar(&pool, SENDS).await + rng.between(1, 12) as i64;
    while scalar(&pool, UNFINISHED).await > 0 {
        assert!(Instant::now() < deadline, "jobs still unfinished after 120 s ({kills} kills, {runs} runs)");
        for slot in workers.iter_mut() {
            if slot.as_mut().is_some_and(|c| c.try_wait().unwrap().is_some()) {
                *slot = None;
            }
        }
        if kills_wanted > 0 && kills < kills_wanted + 5 && scalar(&pool, SENDS).await >= next_kill {
            let live: Vec<usize> = (0..WORKERS).filter(|i| workers[*i].is_some()).collect();
            if !live.is_empty() {
                let mut child = workers[live[rng.below(live.len() as u64) as usize]].take().unwrap();
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
                next_kill = scalar(&pool, SENDS).await + rng.between(1, 12) as i64;
            }
        }
        // An empty slot gets a worker once something is due (not while only
        // backoffs are left).
        if workers.iter().any(Option::is_none) && queue::due(&pool).await.unwrap() > 0 {
            for slot in workers.iter_mut().filter(|s| s.is_none()) {
                *slot = Some(spawn(&url, &base, dir.path()));
                runs += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for mut child in workers.into_iter().flatten() {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert!(kills >= kills_wanted, "only {kills} kills: the work ended too early");

    let statuses: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, count(*) FROM tokportal.mutation_jobs GROUP BY 1")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(statuses, vec![("succeeded".to_string(), JOBS as i64)]);
    let ledger = sim.ledger();
    let mut executed: HashMap<String, usize> = HashMap::new();
    for entry in &ledger {
        *executed.entry(entry.idempotency_key.clone().expect("every mutation had a key")).or_default() += 1;
    }
    let lost = price.keys().filter(|k| !executed.contains_key(*k)).count();
    let twice = executed.values().filter(|n| **n > 1).count();
    assert_eq!((lost, twice, ledger.len()), (0, 0, JOBS), "0 lost, 0 executed twice");
    let debited = sim.key_stats(DEMO_KEY).unwrap().credits_debited;
    assert_eq!(debited, price.values().sum::<i64>(), "credits debited = the sum of the jobs' prices");
    let fired = sim.stats().faults_fired;
    let requests = sim.key_stats(DEMO_KEY).unwrap().requests;
    println!(
        "{kills} kills, {runs} runs, {requests} requests, faults fired {fired:?}, {} sends ({} answered \
         IDEMPOTENCY_KEY_IN_PROGRESS), {:.1} s",
        scalar(&pool, SENDS).await,
        scalar(&pool, IN_PROGRESS).await,
        started.elapsed().as_secs_f64()
    );
    assert!(fired.dropped > 0 && fired.failed > 0 && fired.stalled > 0, "{fired:?}");
    sim.shutdown().await;
}
