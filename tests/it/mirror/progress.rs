//! What a person watching `worker sync` sees: bars with an ETA on a terminal
//! (a real pseudo-terminal here, so the worker's `isatty` check is the one
//! users meet), and none of their escape codes when stderr is a file.

use std::fs::File;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};

use sqlx::PgPool;
use tokportal_sync::sim::DEMO_KEY;

use super::support::sim;
use crate::helpers::{database_url, text, worker};

/// A pseudo-terminal: (master, slave).
fn openpty() -> (File, OwnedFd) {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two descriptors it opened into the two ints;
    // the null pointers ask for no name, default termios and window size.
    let rc = unsafe {
        libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null())
    };
    assert_eq!(rc, 0, "openpty failed: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened by openpty and are owned by nobody else.
    unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

fn env(url: &str, base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", url.to_string()),
        ("TOKPORTAL_API_KEY", DEMO_KEY.to_string()),
        ("TOKPORTAL__API__BASE_URL", base.to_string()),
        ("TOKPORTAL__API__RATE_PER_SECOND", "1000".into()),
        ("TOKPORTAL__API__BURST", "1000".into()),
        ("TOKPORTAL__API__PER_PAGE", "10".into()),
    ]
}

/// `worker sync` with stderr captured (not a terminal), with `extra` variables.
async fn sync_off_a_terminal(
    pool: &PgPool,
    sim: &tokportal_sync::sim::SimServer,
    extra: &[(&'static str, &str)],
) -> std::process::Output {
    let url = database_url(pool).await;
    let mut env = env(&url, sim.base_url().as_str());
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        worker(dir.path(), &["sync"], &env)
    })
    .await
    .unwrap()
}

#[sqlx::test]
async fn on_a_terminal_worker_sync_draws_a_bar_per_stream_with_an_eta_at_the_budget(pool: PgPool) {
    let sim = sim(60).await;
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let env = env(&url, sim.base_url().as_str());
    let (status, screen) = tokio::task::spawn_blocking(move || {
        let (mut master, slave) = openpty();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_worker"));
        cmd.arg("sync").current_dir(dir.path()).env_clear();
        if let Ok(path) = std::env::var("PATH") {
            cmd.env("PATH", path);
        }
        cmd.env("TERM", "xterm-256color").envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(slave))
            .spawn()
            .expect("the worker binary runs");
        // The child holds the only slave descriptor left: once it exits,
        // reading the master ends (EIO on Linux), so this reads everything.
        drop(cmd);
        let mut screen = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match master.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => screen.extend_from_slice(&chunk[..n]),
            }
        }
        (child.wait().expect("the worker ends"), text(&screen))
    })
    .await
    .unwrap();
    assert!(status.success(), "{screen}");
    // The bar's template: the stream, the bar, pages done of the total.
    assert!(screen.contains("bundles ["), "a bar for bundles: {screen:?}");
    assert!(screen.contains("/6 "), "6 pages of 10 bundles: {screen:?}");
    assert!(screen.contains("at the key's budget"), "an ETA at the budget: {screen:?}");
    assert!(screen.contains("bundle_videos ["), "a bar for a child stream: {screen:?}");
    // The summary line is still there, written above the bars.
    assert!(screen.contains("bundles: succeeded (full)"), "{screen:?}");
    sim.shutdown().await;
}

#[sqlx::test]
async fn off_a_terminal_worker_sync_writes_progress_lines_at_log_progress_secs_and_no_bar(pool: PgPool) {
    let sim = sim(60).await;
    // A line at every page (each takes longer than a millisecond).
    let out = sync_off_a_terminal(&pool, &sim, &[("TOKPORTAL__LOG__PROGRESS_SECS", "0.001")]).await;
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("bundles: succeeded (full)"), "{err}");
    assert!(!err.contains("bundles ["), "no bar off a terminal: {err}");
    assert!(!err.contains('\u{1b}'), "no escape codes in a log file: {err:?}");
    // The bundles' lines (the other default lists log theirs too).
    let walking: Vec<&str> =
        err.lines().filter(|l| l.contains(" walking ") && l.contains("stream=\"bundles\"")).collect();
    assert!(walking.len() >= 2, "progress lines off a terminal: {err}");
    let last = walking.last().unwrap();
    for field in ["total_pages=6", "eta_secs=", "items="] {
        assert!(last.contains(field), "{field} in {last}");
    }
    sim.shutdown().await;
}

#[sqlx::test]
async fn with_log_format_json_every_line_of_stderr_is_json_the_summary_too(pool: PgPool) {
    let sim = sim(30).await;
    let extra = [("TOKPORTAL__LOG__FORMAT", "json"), ("TOKPORTAL__LOG__PROGRESS_SECS", "0.001")];
    let out = sync_off_a_terminal(&pool, &sim, &extra).await;
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    let lines: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.iter().any(|v| v["fields"]["message"] == "walking"), "{err}");
    let summaries: Vec<&str> = lines
        .iter()
        .filter(|v| v["fields"]["summary"] == true)
        .filter_map(|v| v["fields"]["message"].as_str())
        .collect();
    assert!(summaries.iter().any(|m| m.starts_with("bundles: succeeded (full)")), "{summaries:?}");
    assert!(summaries.last().is_some_and(|m| m.starts_with("sync ")), "{summaries:?}");
    sim.shutdown().await;
}
