//! The daemon's `/healthz` (ready once Postgres answers and the migrations
//! are applied) and `/metrics` (the listed series, after a sync and a job),
//! and the webhook route served apart from them on `server.webhook_listen`.

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::PgPool;
use tokportal_sync::webhooks::receiver;

use super::once::{enqueue, sim};
use super::support::{Worker, config, env, run, until};
use crate::helpers::{database_url, text};
use crate::webhooks::support::{deliver, envelope};

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.expect("the daemon answers");
    (response.status().as_u16(), response.text().await.unwrap())
}

#[sqlx::test(migrations = false)]
async fn healthz_turns_ready_once_migrated_and_metrics_serves_every_series(pool: PgPool) {
    let sim = sim(30).await;
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &["bundles"], "* * * * * *");
    let env = env(&url, sim.base_url().as_str(), "1000");
    let mut daemon = Worker::spawn(dir.path(), &[], &env);
    let base = daemon.http_base().await;

    let (status, body) = get(&format!("{base}/healthz")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("worker migrate"), "{body}");
    let out = run(dir.path(), &["migrate"], &env).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(&format!("{base}/healthz")).await.0 != 200 {
        assert!(Instant::now() < deadline, "/healthz never turned ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    enqueue(&pool).await;
    until(
        &pool,
        "SELECT count(*) FROM tokportal.mutation_jobs WHERE status = 'succeeded'",
        Duration::from_secs(20),
        |n| n == 1,
    )
    .await;
    until(
        &pool,
        "SELECT count(*) FROM tokportal.sync_runs WHERE status = 'succeeded'",
        Duration::from_secs(20),
        |n| n >= 1,
    )
    .await;
    let (status, metrics) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    for series in [
        r#"tokportal_api_responses_total{status="200"}"#,
        r#"tokportal_api_responses_total{status="201"}"#,
        r#"tokportal_api_requests_total{client="sync"}"#,
        r#"tokportal_api_rate_limited_total{client="sync"}"#,
        r#"tokportal_api_budget_wait_seconds_total{client="replay"}"#,
        r#"tokportal_api_budget_tokens_booked_ahead{client="sync"}"#,
        r#"tokportal_sync_pages_total{stream="bundles"}"#,
        r#"tokportal_sync_rows_total{stream="bundles",change="inserted"}"#,
        r#"tokportal_sync_rows_total{stream="bundles",change="updated"}"#,
        r#"tokportal_sync_rows_total{stream="bundles",change="deleted"}"#,
        r#"tokportal_sync_last_success_timestamp_seconds{stream="bundles"}"#,
        r#"tokportal_jobs_total{outcome="succeeded"} 1"#,
        "tokportal_jobs_queue_depth 0",
        "tokportal_jobs_oldest_queued_age_seconds 0",
    ] {
        assert!(metrics.contains(series), "{series} in\n{metrics}");
    }
    // Prometheus naming: `_total` is a counter's suffix, and only a counter's.
    let types: Vec<(&str, &str)> =
        metrics.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.split_once(' ')).collect();
    assert!(types.contains(&("tokportal_api_budget_wait_seconds_total", "counter")), "{metrics}");
    for (name, kind) in types {
        assert_eq!(name.ends_with("_total"), kind == "counter", "{name} is a {kind}");
    }
    daemon.sigterm();
    assert_eq!(daemon.exit_within(Duration::from_secs(10)).await.code(), Some(0), "{}", daemon.log());
    sim.shutdown().await;
}

#[sqlx::test]
async fn with_webhook_listen_set_the_webhook_route_and_the_metrics_are_served_apart(pool: PgPool) {
    const SECRET: &str = "whsec_apart";
    let sim = sim(3).await;
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    // A schedule that never comes round: nothing but the listeners matters here.
    config(dir.path(), &["bundles"], "0 0 0 1 1 * 2099");
    let mut env = env(&url, sim.base_url().as_str(), "1000");
    env.push(("TOKPORTAL_WEBHOOK_SECRET", SECRET.into()));
    env.push(("TOKPORTAL__SERVER__WEBHOOK_LISTEN", "127.0.0.1:0".into()));
    let mut daemon = Worker::spawn(dir.path(), &[], &env);
    let base = daemon.http_base().await;
    let line = daemon.line("receiving webhooks on http://", Duration::from_secs(30)).await;
    let hook = line[line.find("http://").unwrap()..].split_whitespace().next().unwrap().to_string();
    let hook_base = hook.strip_suffix(receiver::PATH).expect("the route's URL").to_string();
    assert_ne!(hook_base, base, "two listeners");

    let body = envelope("evt_apart", "bundle.published", json!({ "id": "b1" }));
    assert_eq!(deliver(&format!("{base}{}", receiver::PATH), "evt_apart", &body, Some(SECRET), 0).await, 404);
    assert_eq!(deliver(&hook, "evt_apart", &body, Some(SECRET), 0).await, 200);
    for path in ["/metrics", "/healthz"] {
        assert_eq!(get(&format!("{hook_base}{path}")).await.0, 404, "{path} on the webhook listener");
    }
    assert_eq!(get(&format!("{base}/metrics")).await.0, 200);
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tokportal.webhook_events").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, 1);
    daemon.sigterm();
    assert_eq!(daemon.exit_within(Duration::from_secs(10)).await.code(), Some(0), "{}", daemon.log());
    sim.shutdown().await;
}
