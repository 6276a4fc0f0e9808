//! A reader that goes away never makes the worker panic (exit 101): as
//! `worker demo --walk-only 2>&1 | head -1` does, the pipes are closed after
//! the first line while the walk still has progress lines and a report to write.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A walk of 30 pages, 25 of them at 20 requests a second: its progress
/// line after a second and its report come well after the first line was read.
fn demo(stdout: Stdio, stderr: Stdio) -> Child {
    let dir = tempfile::tempdir().unwrap();
    let args = ["demo", "--walk-only", "--bundles", "3000", "--rate", "20", "--burst", "5"];
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_worker"));
    cmd.args(args).current_dir(dir.path()).env_clear().stdin(Stdio::null()).stdout(stdout).stderr(stderr);
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    cmd.spawn().expect("the worker starts")
}

/// Waits (generously) for the child to end; kills it if it never does.
fn exit_within(child: &mut Child, within: Duration) -> ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the worker did not end within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn closing_stdout_and_stderr_after_the_first_line_does_not_panic() {
    let mut child = demo(Stdio::piped(), Stdio::piped());
    let mut first = String::new();
    BufReader::new(child.stderr.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.starts_with("simulator at"), "{first}");
    // Both readers are gone: every later write meets a closed pipe.
    drop(child.stdout.take());
    let status = exit_within(&mut child, Duration::from_secs(120));
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn a_closed_stderr_alone_does_not_panic() {
    let mut child = demo(Stdio::null(), Stdio::piped());
    let mut first = String::new();
    BufReader::new(child.stderr.take().unwrap()).read_line(&mut first).unwrap();
    let status = exit_within(&mut child, Duration::from_secs(120));
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn a_closed_stdout_alone_does_not_panic() {
    let mut child = demo(Stdio::piped(), Stdio::null());
    drop(child.stdout.take());
    let status = exit_within(&mut child, Duration::from_secs(120));
    assert_eq!(status.code(), Some(0), "{status:?}");
}
