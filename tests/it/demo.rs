//! `worker demo`: the quick start, end to end through the binary: the full
//! demo against a given database and against a throwaway cluster (removed
//! at the end, and on SIGTERM), the walk-only demo, its usage errors, and
//! the verdict checking the jobs against the simulator's ledger.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokportal_sync::demo::report::{Phase, Replay, Summary};
use tokportal_sync::jobs::queue::Job;
use tokportal_sync::sim::{FaultsFired, LedgerEntry};

use crate::helpers::{database_url, text, worker};

async fn demo(args: &[&str], env: Vec<(String, String)>) -> std::process::Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        worker(dir.path(), &args, &env)
    })
    .await
    .unwrap()
}

#[sqlx::test]
async fn the_demo_mirrors_and_replays_every_job_exactly_once_into_database_url(pool: PgPool) {
    let url = database_url(&pool).await;
    let out = demo(
        &["demo", "--bundles", "200", "--rate", "500", "--burst", "500"],
        vec![("DATABASE_URL".into(), url)],
    )
    .await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}\n{stdout}", text(&out.stderr));
    assert!(stdout.contains("jobs succeeded: 6 of 6"), "{stdout}");
    assert!(stdout.contains("executed exactly once (simulator's ledger): 6 of 6"), "{stdout}");
    assert!(stdout.contains("failed 2 sends (503) and dropped 2 answers"), "{stdout}");
    let (debited, charged) = credits(&stdout);
    assert!(debited > 0, "the creations cost credits: {stdout}");
    assert_eq!(debited as f64, charged, "the ledger and the jobs agree: {stdout}");
    assert!(stdout.contains(&format!("({debited} credits, as the simulator's ledger says)")), "{stdout}");
    let (requests, streams, ratio) = budget(&stdout);
    assert_eq!(requests, streams, "the simulator counted the requests the walks made: {stdout}");
    assert_eq!(ratio, None, "a burst of 500 holds the whole pass: {stdout}");
    assert!(stdout.contains("-- live bundles by status"), "{stdout}");
    // The accounts were mirrored with the bundles, and a view joins them.
    let view = stdout.split("-- delivered accounts of bundles").nth(1).expect("the view's query is shown");
    let view = view.split("\n-- ").next().unwrap_or_default();
    assert!(view.contains("FROM tokportal.bundle_overview"), "{view}");
    assert!(view.lines().any(|row| row.contains(r#""username":"user_"#)), "a row: {view}");
    let succeeded: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tokportal.mutation_jobs WHERE status = 'succeeded'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(succeeded, 6);
    let bundles: i64 = sqlx::query_scalar("SELECT count(*) FROM tokportal.bundles WHERE deleted_at IS NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(bundles > 200, "the created bundles were mirrored too: {bundles}");
}

/// The summary's `credits debited by the simulator: D; charged according to the jobs: C`.
fn credits(stdout: &str) -> (i64, f64) {
    let line = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("credits debited by the simulator: "))
        .unwrap_or_else(|| panic!("a credits line in {stdout}"));
    let (debited, charged) = line.split_once("; charged according to the jobs: ").expect("both figures");
    (debited.parse().unwrap(), charged.parse().unwrap())
}

/// The first pass's `budget: N requests in …` line: N, the requests the
/// per-stream lines above it add up to, and the ratio of the wall time to
/// the token bucket's optimum (`None`: the pass fit in the burst).
fn budget(stdout: &str) -> (u64, u64, Option<f64>) {
    let mut lines = stdout.lines().skip_while(|l| !l.starts_with("mirrored (first pass"));
    lines.next().expect("a first-pass section");
    let mut streams = 0;
    for line in lines {
        if let Some(rest) = line.trim().strip_prefix("budget: ") {
            let requests = rest.split_whitespace().next().unwrap().parse().unwrap();
            let ratio = match rest.split_once("(ratio ") {
                Some((_, r)) => Some(r.trim_end_matches(')').parse().unwrap()),
                None => {
                    assert!(rest.contains("the bucket did not limit this pass"), "{line}");
                    None
                }
            };
            return (requests, streams, ratio);
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words.last(), Some(&"requests"), "a stream's line: {line}");
        streams += words[words.len() - 2].parse::<u64>().unwrap();
    }
    panic!("no budget line in {stdout}");
}

#[sqlx::test]
async fn the_demo_refuses_a_database_that_mirrors_another_account(pool: PgPool) {
    tokportal_sync::db::migrate(&pool).await.unwrap();
    sqlx::query("INSERT INTO tokportal.bundles (id, data) VALUES ('not-from-the-simulator', '{}')")
        .execute(&pool)
        .await
        .unwrap();
    let url = database_url(&pool).await;
    let out = demo(&["demo", "--bundles", "50", "--rate", "500"], vec![("DATABASE_URL".into(), url)]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("scratch database"), "{stderr}");
    // The other way out must work under `cargo run` too, where unsetting the
    // variable does not (.cargo/config.toml sets it again): an empty one.
    assert!(stderr.contains("DATABASE_URL= cargo run --release -- demo"), "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let shown = text(&worker(dir.path(), &["check-config"], &[("DATABASE_URL", "")]).stdout);
    assert!(
        shown.contains("database: not set (DATABASE_URL)"),
        "an empty DATABASE_URL reads as unset: {shown}"
    );
    let cargo_env =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.cargo/config.toml")).unwrap();
    let line = cargo_env.lines().find(|l| l.starts_with("DATABASE_URL")).expect("cargo sets DATABASE_URL");
    assert!(line.contains("force = false"), "cargo must keep a DATABASE_URL that is set, even empty: {line}");
}

#[tokio::test]
async fn the_demo_starts_a_throwaway_cluster_and_removes_it_afterwards() {
    // A bucket of 20 at 100/s: the bucket, not the burst, paces the first pass.
    let out =
        demo(&["demo", "--throwaway", "--bundles", "100", "--rate", "100", "--burst", "20"], vec![]).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}\n{stdout}");
    assert!(stdout.contains("executed exactly once (simulator's ledger): 6 of 6"), "{stdout}");
    let (debited, charged) = credits(&stdout);
    assert!(debited > 0 && debited as f64 == charged, "{stdout}");
    let (requests, streams, ratio) = budget(&stdout);
    assert_eq!(requests, streams, "{stdout}");
    // Nothing beats the token bucket: the pass took at least its optimum
    // (a floor on the time taken, to the summary's two decimals).
    let ratio = ratio.expect("the bucket limited the pass");
    assert!(ratio >= 0.99, "ratio {ratio} under the optimum: {stdout}");
    let dir = stderr
        .lines()
        .find_map(|l| l.strip_prefix("database: a throwaway cluster in "))
        .and_then(|rest| rest.split(' ').next())
        .expect("the cluster's directory is named");
    assert!(!std::path::Path::new(dir).exists(), "{dir} was removed");
    assert!(stdout.contains("the throwaway cluster is gone"), "{stdout}");
}

#[test]
fn a_sigtermed_demo_stops_its_throwaway_cluster_and_removes_its_directory() {
    // At 2 requests a second with a bucket of 2, mirroring 2,000 bundles
    // takes over a minute: the demo is still walking when SIGTERM comes.
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_worker"));
    command
        .args(["demo", "--throwaway", "--bundles", "2000", "--rate", "2", "--burst", "2"])
        .current_dir(dir.path())
        .env_clear()
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    let mut demo = Reaped(command.spawn().expect("the worker starts"));
    let stderr = demo.0.stderr.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut log = String::new();
    let cluster = loop {
        let line = received
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|e| panic!("no throwaway cluster named ({e}):\n{log}"));
        log.push_str(&line);
        log.push('\n');
        if let Some(rest) = line.strip_prefix("database: a throwaway cluster in ") {
            break std::path::PathBuf::from(rest.split(' ').next().unwrap());
        }
    };
    assert!(cluster.exists(), "{} exists while the demo runs", cluster.display());

    let pid = libc::pid_t::try_from(demo.0.id()).unwrap();
    // SAFETY: kill(2) with the PID of the child this test spawned and has not reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = demo.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the demo did not stop within 90 s of SIGTERM:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    };
    // The pipe closed with the process: the rest of its log is all there.
    log.extend(received.iter().map(|line| line + "\n"));
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains("interrupted by SIGTERM"), "{log}");
    assert!(!cluster.exists(), "{} was removed:\n{log}", cluster.display());
}

/// A child killed and reaped when the test ends, whatever happened.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn without_postgresql_programs_the_demo_says_how_to_install_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = worker(dir.path(), &["demo", "--throwaway", "--pg-bin", "/nonexistent"], &[]);
    // A flag naming a directory without the programs is a usage error: exit 2.
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("apt-get install postgresql"), "{}", text(&out.stderr));
}

#[test]
fn bad_demo_flags_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["demo", "--rate", "0"][..],
        &["demo", "--walk-only", "--rate", "0"],
        &["demo", "--rate", "-1"],
        &["demo", "--bundles", "5000000"],
        &["demo", "--burst", "0"],
    ] {
        let out = worker(dir.path(), args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
    }
}

#[test]
fn the_demo_walks_every_bundle_within_the_budget_even_while_the_account_changes() {
    let dir = tempfile::tempdir().unwrap();
    let out = worker(
        dir.path(),
        &["demo", "--walk-only", "--bundles", "1500", "--rate", "20", "--burst", "200", "--drift-every", "3"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("(missing from the walk: 0)"), "{stdout}");
    assert!(stdout.contains("(0 answered 429 by the simulator)"), "{stdout}");
    let reread: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("pages read"))
        .and_then(|rest| rest.split('(').nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("a `pages read` line");
    assert!(reread > 0, "the drifting account made the walk read pages again: {stdout}");
}

/// A job that succeeded under `key`, charged `credits_charged` by its answer.
fn succeeded(id: i64, key: &str, credits_charged: Option<f64>) -> Job {
    let now = chrono::Utc::now();
    Job {
        id,
        status: "succeeded".into(),
        method: "POST".into(),
        path: "/bundles".into(),
        body: Some("{}".into()),
        idempotency_key: key.into(),
        ordering_key: None,
        attempts: 1,
        claims: 1,
        run_after: now,
        locked_until: None,
        first_sent_at: Some(now),
        response_status: Some(201),
        response_body: None,
        replayed: Some(false),
        credits_charged,
        error_code: None,
        last_error: None,
        error_details: None,
        created_at: now,
        finished_at: Some(now),
    }
}

/// One execution in the simulator's ledger, under `key`, debiting `credits`.
fn executed(key: &str, credits: i64) -> LedgerEntry {
    LedgerEntry {
        key_fingerprint: "fp".into(),
        idempotency_key: Some(key.into()),
        method: "POST".into(),
        path: "/bundles".into(),
        body_sha256: String::new(),
        status: 201,
        credits_debited: credits,
        at: chrono::Utc::now(),
    }
}

fn verdict(jobs: &[Job], ledger: &[LedgerEntry]) -> anyhow::Result<()> {
    let phase = || Phase { runs: Vec::new(), requests: 0, wall: Duration::ZERO };
    let summary = Summary {
        mirrored: phase(),
        again: phase(),
        replay: Replay::default(),
        jobs,
        finished: jobs,
        ledger,
        fired: FaultsFired::default(),
        burst: 1,
        rate: 1.0,
    };
    summary.verdict()
}

#[test]
fn the_demos_verdict_fails_when_the_ledger_debited_other_credits_than_the_jobs_recorded() {
    let jobs = [succeeded(1, "k1", Some(10.0)), succeeded(2, "k2", None)];
    verdict(&jobs, &[executed("k1", 10), executed("k2", 0)]).expect("the ledger and the jobs agree");

    let error = verdict(&jobs, &[executed("k1", 20), executed("k2", 0)]).unwrap_err().to_string();
    assert!(error.contains("ledger debited 20 credits but the jobs recorded 10"), "{error}");
    // Debited for a job whose answer named no charge.
    let error = verdict(&jobs, &[executed("k1", 10), executed("k2", 5)]).unwrap_err().to_string();
    assert!(error.contains("ledger debited 15 credits but the jobs recorded 10"), "{error}");
}
