//! `worker get`: one GET or a whole list through the worker's client and
//! budget; two processes sharing a key through Postgres stay under its bucket;
//! the key never shows in output or logs.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use sqlx::PgPool;
use tokportal_sync::sim::{self, DEMO_KEY, SimConfig, SimKey, SimServer};

use super::support::sim_with;
use crate::helpers::{database_url, text};

/// Starts `worker ARGS` against `sim` with a clean environment.
fn spawn(dir: &Path, sim: &SimServer, key: &str, args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_worker"));
    cmd.args(args).current_dir(dir).env_clear().stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    cmd.env("TOKPORTAL__API__BASE_URL", sim.base_url().as_str()).env("TOKPORTAL_API_KEY", key);
    cmd.envs(env.iter().copied());
    cmd.spawn().expect("the worker binary starts")
}

/// Waits for the processes without blocking the simulator's runtime.
async fn wait_all(children: Vec<Child>) -> Vec<Output> {
    tokio::task::spawn_blocking(move || children.into_iter().map(|c| c.wait_with_output().unwrap()).collect())
        .await
        .unwrap()
}

async fn run(sim: &SimServer, key: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    wait_all(vec![spawn(dir.path(), sim, key, args, env)]).await.remove(0)
}

fn ids(stdout: &[u8]) -> Vec<String> {
    text(stdout)
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["id"].as_str().unwrap().to_string()
        })
        .collect()
}

#[tokio::test]
async fn worker_get_prints_the_json_body_of_one_get() {
    let sim = sim_with(5, 100.0, 100).await;
    let id = sim.bundle_ids().remove(0);
    let out = run(&sim, DEMO_KEY, &["get", &format!("/bundles/{id}")], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["data"]["id"], id.as_str());
    sim.shutdown().await;
}

#[tokio::test]
async fn worker_get_all_pages_prints_every_item_once_one_per_line() {
    let sim = sim_with(137, 100.0, 100).await;
    let out =
        run(&sim, DEMO_KEY, &["get", "/bundles", "--all-pages"], &[("TOKPORTAL__API__PER_PAGE", "25")]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(ids(&out.stdout), sim.bundle_ids());
    assert!(text(&out.stderr).contains("walk complete"), "{}", text(&out.stderr));
    sim.shutdown().await;
}

#[tokio::test]
async fn worker_get_passes_query_filters() {
    let sim = sim_with(60, 100.0, 100).await;
    let args = ["get", "/bundles", "--all-pages", "--query", "status=published"];
    let out = run(&sim, DEMO_KEY, &args, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines = text(&out.stdout);
    assert!(lines.lines().count() > 0);
    for line in lines.lines() {
        assert_eq!(serde_json::from_str::<serde_json::Value>(line).unwrap()["status"], "published", "{line}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn worker_get_without_an_api_key_fails_saying_which_variable_to_set() {
    let sim = sim_with(5, 100.0, 100).await;
    let out = run(&sim, "", &["get", "/bundles"], &[]).await;
    // A configuration error: exit 2, which systemd does not restart.
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("TOKPORTAL_API_KEY"), "{}", text(&out.stderr));
    sim.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn worker_get_on_a_database_without_the_budget_table_says_to_migrate(pool: PgPool) {
    let url = database_url(&pool).await;
    let sim = sim_with(5, 100.0, 100).await;
    let out = run(&sim, DEMO_KEY, &["get", "/bundles"], &[("DATABASE_URL", &url)]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("worker migrate"), "{}", text(&out.stderr));
    assert_eq!(sim.key_stats(DEMO_KEY).unwrap().requests, 0);
    sim.shutdown().await;
}

/// Two walks of 10 pages on one key whose bucket holds 5 and refills 5/s: an
/// interval of 200 ms, far above the scheduling jitter of a loaded machine.
async fn two_walks_at_once(sim: &SimServer, env: &[(&str, &str)]) -> Vec<Output> {
    let dir = tempfile::tempdir().unwrap();
    let mut env = env.to_vec();
    env.extend([
        ("TOKPORTAL__API__RATE_PER_SECOND", "5"),
        ("TOKPORTAL__API__BURST", "5"),
        ("TOKPORTAL__API__PER_PAGE", "30"),
    ]);
    let args = ["get", "/bundles", "--all-pages"];
    let children = (0..2).map(|_| spawn(dir.path(), sim, DEMO_KEY, &args, &env)).collect();
    wait_all(children).await
}

#[sqlx::test]
async fn two_processes_sharing_a_key_through_postgres_never_exceed_its_bucket(pool: PgPool) {
    let url = database_url(&pool).await;
    let sim = sim_with(300, 5.0, 5).await;
    for out in two_walks_at_once(&sim, &[("DATABASE_URL", &url)]).await {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(ids(&out.stdout).len(), 300);
    }
    let stats = sim.key_stats(DEMO_KEY).unwrap();
    assert_eq!((stats.requests, stats.rate_limited), (20, 0));
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tokportal.api_budgets").fetch_one(&pool).await.unwrap();
    assert_eq!(rows, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_api_key_never_appears_in_output_or_logs() {
    let key = "sk_5ec2e7000000000000000000000000000000000000000000000000000000beef";
    let config = SimConfig {
        bundles: 30,
        rate_per_second: 50.0,
        burst: 5,
        keys: vec![SimKey::full(key, 100)],
        ..Default::default()
    };
    let sim = sim::start(config).await.unwrap();
    sim.update_faults(|f| f.fail_next = 1).unwrap();
    let trace = [("RUST_LOG", "trace"), ("TOKPORTAL__API__PER_PAGE", "5")];
    let mut outputs = vec![run(&sim, key, &["get", "/bundles", "--all-pages"], &trace).await];
    outputs.push(run(&sim, key, &["get", "/bundles/missing"], &trace).await);
    outputs.push(run(&sim, &format!("{key}x"), &["get", "/bundles"], &trace).await);
    let json = [("RUST_LOG", "trace"), ("TOKPORTAL__LOG__FORMAT", "json")];
    outputs.push(run(&sim, key, &["get", "/bundles"], &json).await);
    for out in &outputs {
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(all.lines().count() > 10, "trace logging is on: {all}");
        assert!(!all.contains(key), "the key leaked:\n{all}");
    }
    let ids: HashSet<String> = ids(&outputs[0].stdout).into_iter().collect();
    assert_eq!(ids.len(), 30);
    sim.shutdown().await;
}

#[tokio::test]
async fn worker_get_all_pages_refuses_a_page_or_per_page_of_its_own_with_a_usage_error() {
    let sim = sim_with(250, 1000.0, 1000).await;
    for args in [
        &["get", "/bundles", "--all-pages", "--query", "page=2"][..],
        &["get", "/bundles?per_page=10", "--all-pages"][..],
    ] {
        let out = run(&sim, DEMO_KEY, args, &[]).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        assert!(out.stdout.is_empty(), "{args:?}: nothing may be printed");
        let err = text(&out.stderr);
        assert!(err.contains("sets `page` and `per_page` itself"), "{args:?}: {err}");
    }
    // A single GET may still name a page.
    let out = run(&sim, DEMO_KEY, &["get", "/bundles", "--query", "page=2"], &[]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    sim.shutdown().await;
}
