//! `worker sim` as a process: first stdout line is the base URL, it serves,
//! and it stops on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokportal_sync::sim::DEMO_KEY;

#[tokio::test]
async fn worker_sim_prints_its_base_url_first_serves_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_worker"))
        .args(["sim", "--port", "0", "--bundles", "12", "--no-rate-limit", "--faults", r#"{"slow_ms":1}"#])
        .env_clear()
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("worker sim starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let base = first.trim_end().to_string();
    assert!(base.starts_with("http://127.0.0.1:") && base.ends_with("/api/ext"), "{base:?}");
    let page: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/bundles"))
        .header("X-API-Key", DEMO_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["pagination"]["total"], 12);
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "worker sim did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn worker_sim_refuses_bad_keys_and_faults() {
    for (args, reason) in [
        (&["sim", "--port", "0", "--keys", "sk_a:lots"][..], "credits must be an integer"),
        (&["sim", "--port", "0", "--faults", "{\"fail_status\":200}"], "fail_status must be a 5xx status"),
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_worker"))
            .args(args)
            .env_clear()
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("worker sim starts");
        // A simulator that accepted the arguments would serve forever: give it 10 s.
        let deadline = Instant::now() + Duration::from_secs(10);
        let exit = loop {
            if let Some(exit) = child.try_wait().unwrap() {
                break Some(exit);
            }
            if Instant::now() >= deadline {
                child.kill().unwrap();
                child.wait().unwrap();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        let exit = exit.unwrap_or_else(|| panic!("{args:?} was accepted and kept running; stderr: {stderr}"));
        assert!(!exit.success(), "{args:?}");
        assert!(stderr.contains(reason), "{args:?} should be refused for {reason:?}; stderr: {stderr}");
    }
}

#[tokio::test]
async fn worker_sim_latency_flags_set_the_time_every_answer_takes() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_worker"))
        .args(["sim", "--port", "0", "--bundles", "3", "--latency-ms", "120", "--latency-jitter-ms", "30"])
        .env_clear()
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("worker sim starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let base = first.trim_end().to_string();
    let http = reqwest::Client::new();
    let faults: serde_json::Value = http
        .get(format!("{}/__sim/faults", base.trim_end_matches("/api/ext")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((faults["latency_ms"].as_u64(), faults["latency_jitter_ms"].as_u64()), (Some(120), Some(30)));
    let asked = Instant::now();
    let answer = http.get(format!("{base}/bundles")).header("X-API-Key", DEMO_KEY).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert!(asked.elapsed() >= Duration::from_millis(120), "answered after {:?}", asked.elapsed());
    child.kill().unwrap();
    child.wait().unwrap();
}
