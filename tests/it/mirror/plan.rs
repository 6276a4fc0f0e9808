//! `worker sync --plan`: what each stream's run would cost, read from the
//! mirror with nothing sent, and what the runs then spend.

use std::time::Duration;

use serde_json::Value;
use sqlx::PgPool;
use tokportal_sync::mirror::plan;
use tokportal_sync::sim::{DEMO_KEY, SimServer, WebhookConfig};

use super::deliveries::{delivered, refused};
use super::support::{mirror, settings, sync};
use crate::helpers::{database_url, text, worker};

/// Every stream, in the order a sync runs them.
const ALL: &[&str] = tokportal_sync::mirror::ORDER;

/// A simulator of 60 bundles and 12 accounts with a webhook endpoint whose
/// deliveries failed, without rate limiting.
async fn account() -> SimServer {
    let webhooks =
        WebhookConfig { max_attempts: 1, timeout: Duration::from_secs(2), ..WebhookConfig::default() };
    let config =
        tokportal_sync::sim::SimConfig { bundles: 60, rate_limit: false, webhooks, ..Default::default() };
    let sim = tokportal_sync::sim::start(config).await.expect("the simulator starts");
    delivered(&sim, &[refused().await], 3).await;
    sim
}

fn requests(sim: &SimServer) -> u64 {
    sim.key_stats(DEMO_KEY).expect("the demo key").requests
}

#[sqlx::test]
async fn the_plan_sends_nothing_and_each_stream_then_spends_what_it_said(pool: PgPool) {
    let sim = account().await;
    let m = mirror(&pool, &sim, settings());
    for stream in ALL {
        assert!(sync(&m, stream).await.status.succeeded(), "{stream}");
    }
    let before = requests(&sim);
    let estimates = plan::estimate(&m, ALL).await.unwrap();
    assert_eq!(requests(&sim), before, "the plan sent nothing");
    let kinds: Vec<(&str, &str)> = estimates.iter().map(|e| (e.stream, e.run)).collect();
    assert!(
        kinds.contains(&("bundles", "full")) && kinds.contains(&("account_bans", "routine")),
        "{kinds:?}"
    );
    for e in &estimates {
        let run = sync(&m, e.stream).await;
        assert!(run.status.succeeded(), "{run}");
        assert_eq!(run.kind, e.run, "{}", e.stream);
        assert_eq!(run.tally.requests, e.requests, "{}: {} ({run})", e.stream, e.basis);
    }
    sim.shutdown().await;
}

#[sqlx::test]
async fn an_empty_mirror_plans_a_full_walk_of_each_list_and_a_resumed_walk_its_pages_left(pool: PgPool) {
    let sim = account().await;
    let m = mirror(&pool, &sim, settings());
    let first = plan::estimate(&m, &["bundles", "accounts", "credit_balance"]).await.unwrap();
    let runs: Vec<(&str, &str, u64)> = first.iter().map(|e| (e.stream, e.run, e.requests)).collect();
    assert_eq!(runs, [("bundles", "full", 1), ("accounts", "full", 1), ("credit_balance", "snapshot", 1)]);
    assert!(sync(&m, "bundles").await.status.succeeded());
    // A walk of 60 bundles at 25 a page stopped after its first page.
    sqlx::query(
        "INSERT INTO tokportal.sync_runs (stream, kind, status, last_page, started_at) \
         VALUES ('bundles', 'full', 'interrupted', 1, now())",
    )
    .execute(&pool)
    .await
    .unwrap();
    let resumed = &plan::estimate(&m, &["bundles"]).await.unwrap()[0];
    assert_eq!((resumed.run, resumed.requests), ("resumed", 3), "{}", resumed.basis);
    sim.shutdown().await;
}

#[sqlx::test]
async fn worker_sync_plan_prints_each_stream_and_the_total_and_sends_nothing(pool: PgPool) {
    let sim = account().await;
    let url = database_url(&pool).await;
    let base = sim.base_url().to_string();
    let dir = tempfile::tempdir().unwrap();
    let streams = ALL.join(",");
    let go = |args: Vec<&'static str>| {
        let (dir, url, base, streams) =
            (dir.path().to_path_buf(), url.clone(), base.clone(), streams.clone());
        tokio::task::spawn_blocking(move || {
            let env = [
                ("DATABASE_URL", url.as_str()),
                ("TOKPORTAL_API_KEY", DEMO_KEY),
                ("TOKPORTAL__API__BASE_URL", base.as_str()),
                ("TOKPORTAL__SYNC__STREAMS", streams.as_str()),
            ];
            worker(&dir, &args, &env)
        })
    };
    assert!(go(vec!["migrate"]).await.unwrap().status.success());
    let before = requests(&sim);
    let out = go(vec!["sync", "--plan"]).await.unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(requests(&sim), before, "the plan sent nothing");
    let table = text(&out.stdout);
    for stream in ALL {
        assert!(table.lines().any(|l| l.starts_with(stream)), "{stream} in {table}");
    }
    assert!(table.lines().last().unwrap().contains("nothing was sent"), "{table}");

    let out = go(vec!["sync", "--plan", "--json"]).await.unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed: Vec<&str> =
        body["streams"].as_array().unwrap().iter().map(|s| s["stream"].as_str().unwrap()).collect();
    assert_eq!(listed, ALL);
    let sum: u64 = body["streams"].as_array().unwrap().iter().map(|s| s["requests"].as_u64().unwrap()).sum();
    assert_eq!(body["requests"].as_u64(), Some(sum));
    assert_eq!(requests(&sim), before, "the JSON plan sent nothing either");
    sim.shutdown().await;
}
