//! A `worker` child process whose stderr is collected as it runs, signals
//! sent by PID, bounded waits, and the environment of a test worker.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokportal_sync::sim::DEMO_KEY;

use crate::helpers::worker;

/// The environment of a worker against `base` and the database at `url`,
/// paced by its own budget at `rate` requests a second, 10 items a page.
pub fn env(url: &str, base: &str, rate: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", url.into()),
        ("TOKPORTAL_API_KEY", DEMO_KEY.into()),
        ("TOKPORTAL__API__BASE_URL", base.into()),
        ("TOKPORTAL__API__PER_PAGE", "10".into()),
        ("TOKPORTAL__API__RATE_PER_SECOND", rate.into()),
        ("TOKPORTAL__API__BURST", "1".into()),
        ("TOKPORTAL__JOBS__CONCURRENCY", "1".into()),
        ("TOKPORTAL__SERVER__LISTEN", "127.0.0.1:0".into()),
        ("TOKPORTAL__SERVER__SHUTDOWN_TIMEOUT_SECS", "10".into()),
    ]
}

/// A config file in `dir` mirroring only `streams` on `schedule`.
pub fn config(dir: &Path, streams: &[&str], schedule: &str) {
    let list: Vec<String> = streams.iter().map(|s| format!("{s:?}")).collect();
    let text = format!("[sync]\nstreams = [{}]\nschedule = {schedule:?}\n", list.join(", "));
    std::fs::write(dir.join("config.toml"), text).unwrap();
}

/// Runs the worker to its end, off the test's runtime (the simulator shares it).
pub async fn run(dir: &Path, args: &[&'static str], env: &[(&'static str, String)]) -> Output {
    let (dir, args, env) = (dir.to_path_buf(), args.to_vec(), env.to_vec());
    tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        worker(&dir, &args, &env)
    })
    .await
    .unwrap()
}

/// A running worker.
pub struct Worker {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Worker {
    pub fn spawn(dir: &Path, args: &[&str], env: &[(&'static str, String)]) -> Worker {
        let mut child = Command::new(env!("CARGO_BIN_EXE_worker"))
            .args(args)
            .current_dir(dir)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the worker starts");
        let log = Arc::new(Mutex::new(String::new()));
        let (stderr, sink) = (child.stderr.take().unwrap(), log.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Worker { child, log }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGTERM, to this child's PID only.
    pub fn sigterm(&self) {
        self.signal(libc::SIGTERM);
    }

    /// SIGINT (a Ctrl-C), to this child's PID only.
    pub fn sigint(&self) {
        self.signal(libc::SIGINT);
    }

    fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) with a PID this test spawned and has not reaped.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    }

    /// SIGKILL, to this child's PID only, and reaps it.
    pub fn sigkill(&mut self) {
        self.child.kill().expect("SIGKILL reaches the worker");
        self.child.wait().expect("the killed worker is reaped");
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the exit, at most `within` (a bound, not a pace).
    pub async fn exit_within(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the worker did not exit within {within:?}:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The first log line containing `needle`, waiting at most `within`.
    pub async fn line(&mut self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            if let Some(line) = self.log().lines().find(|l| l.contains(needle)) {
                return line.to_string();
            }
            assert!(self.is_running(), "the worker ended before logging {needle:?}:\n{}", self.log());
            assert!(Instant::now() < deadline, "no {needle:?} within {within:?}:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The address the daemon serves `/metrics` on, from its log.
    pub async fn http_base(&mut self) -> String {
        let line = self.line("serving /metrics and /healthz on http://", Duration::from_secs(30)).await;
        let at = line.find("http://").unwrap();
        line[at..].split_whitespace().next().unwrap().to_string()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `sql` (one i64) until `ok` holds, at most `within`.
pub async fn until(pool: &PgPool, sql: &'static str, within: Duration, ok: impl Fn(i64) -> bool) -> i64 {
    let deadline = Instant::now() + within;
    loop {
        let v: Option<i64> = sqlx::query_scalar(sql).fetch_one(pool).await.unwrap();
        let v = v.unwrap_or(0);
        if ok(v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{sql} stayed at {v} for {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn scalar(pool: &PgPool, sql: &'static str) -> i64 {
    let v: Option<i64> = sqlx::query_scalar(sql).fetch_one(pool).await.unwrap();
    v.unwrap_or(0)
}
