//! What a fresh daemon exports before its first event (every series, at 0),
//! and that every metric the shipped Grafana dashboard and Prometheus alert
//! rules query is one of them, read from a running daemon's `/metrics`.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::PgPool;
use tokportal_sync::meter::{CLIENTS, JOB_OUTCOMES};
use tokportal_sync::mirror::streams;
use tokportal_sync::sim::SimServer;

use super::once::sim;
use super::support::{Worker, config, env};
use crate::helpers::database_url;

/// Every series name the daemon exports: what dashboards and alerts may use.
const SERIES: &[&str] = &[
    "tokportal_api_responses_total",
    "tokportal_api_requests_total",
    "tokportal_api_rate_limited_total",
    "tokportal_api_budget_wait_seconds_total",
    "tokportal_api_budget_tokens_booked_ahead",
    "tokportal_api_budget_blocked_seconds",
    "tokportal_sync_pages_total",
    "tokportal_sync_rows_total",
    "tokportal_sync_runs_total",
    "tokportal_sync_deletes_unchecked_total",
    "tokportal_sync_deletes_refused_total",
    "tokportal_sync_problems_total",
    "tokportal_sync_problems_open",
    "tokportal_sync_last_success_timestamp_seconds",
    "tokportal_mirror_oldest_walk_age_seconds",
    "tokportal_mirror_oldest_active_children_age_seconds",
    "tokportal_jobs_total",
    "tokportal_jobs_queue_depth",
    "tokportal_jobs_oldest_queued_age_seconds",
    "tokportal_jobs_oldest_due_age_seconds",
    "tokportal_webhook_deliveries_total",
    "tokportal_webhook_events_refreshed_total",
    "tokportal_webhook_refreshes_total",
    "tokportal_postgres_up",
];

/// `(series with its labels, value)` of each `tokportal_` sample.
fn samples(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| l.starts_with("tokportal_"))
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("a sample line");
            (series.to_string(), value.parse().expect("a number"))
        })
        .collect()
}

fn name(series: &str) -> &str {
    series.split('{').next().unwrap()
}

/// A daemon that will not sync (its schedule never comes) against a simulator.
async fn idle_daemon(pool: &PgPool) -> (Worker, String, SimServer) {
    let sim = sim(3).await;
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &["bundles", "bundle_videos", "bundle_accounts"], "0 0 0 1 1 * 2099");
    let env = env(&database_url(pool).await, sim.base_url().as_str(), "1000");
    let mut daemon = Worker::spawn(dir.path(), &[], &env);
    let base = daemon.http_base().await;
    (daemon, base, sim)
}

/// Scrapes until `ok` holds of the text, at most 30 s (a bound, not a pace).
async fn scrape_until(daemon: &Worker, base: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
        if ok(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "not scraped in time:\n{text}\n{}", daemon.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn stop(mut daemon: Worker, sim: SimServer) {
    daemon.sigterm();
    assert_eq!(daemon.exit_within(Duration::from_secs(10)).await.code(), Some(0), "{}", daemon.log());
    sim.shutdown().await;
}

/// A fresh daemon's `/metrics`, once its scrapes read Postgres.
async fn fresh_metrics(pool: &PgPool) -> String {
    let (daemon, base, sim) = idle_daemon(pool).await;
    let text = scrape_until(&daemon, &base, |t| t.contains("\ntokportal_postgres_up 1\n")).await;
    stop(daemon, sim).await;
    text
}

#[sqlx::test]
async fn a_fresh_daemon_lists_every_series_at_zero_before_its_first_event(pool: PgPool) {
    let text = fresh_metrics(&pool).await;
    let samples = samples(&text);
    let names: BTreeSet<&str> = samples.iter().map(|(s, _)| name(s)).collect();
    for series in SERIES {
        assert!(names.contains(series), "{series} missing from a fresh daemon's /metrics:\n{text}");
    }
    for (series, value) in &samples {
        match name(series) {
            "tokportal_postgres_up" => assert_eq!(*value, 1.0),
            // A list never walked is stale since the daemon started: seconds ago.
            "tokportal_mirror_oldest_walk_age_seconds" if series.contains("\"bundles\"") => {
                assert!((0.0..60.0).contains(value), "{series} {value}")
            }
            _ => assert_eq!(*value, 0.0, "{series} on a fresh daemon"),
        }
    }
    // Labels known in advance: every stream, status, client and outcome.
    let has = |series: String| assert!(text.contains(&format!("{series} ")), "{series} in\n{text}");
    for stream in streams::names() {
        for status in ["succeeded", "succeeded_with_problems", "failed", "interrupted"] {
            has(format!("tokportal_sync_runs_total{{stream=\"{stream}\",status=\"{status}\"}}"));
        }
        has(format!("tokportal_sync_problems_open{{stream=\"{stream}\"}}"));
    }
    for client in CLIENTS {
        has(format!("tokportal_api_budget_blocked_seconds{{client=\"{client}\"}}"));
        has(format!("tokportal_api_rate_limited_total{{client=\"{client}\"}}"));
    }
    for outcome in JOB_OUTCOMES {
        has(format!("tokportal_jobs_total{{outcome=\"{outcome}\"}}"));
    }
    for status in ["401", "429"] {
        has(format!("tokportal_api_responses_total{{status=\"{status}\"}}"));
    }
    for outcome in ["accepted", "refused", "unstored"] {
        has(format!("tokportal_webhook_deliveries_total{{outcome=\"{outcome}\"}}"));
    }
    has("tokportal_webhook_events_refreshed_total{kind=\"failed\"}".into());
    has("tokportal_mirror_oldest_active_children_age_seconds{stream=\"bundle_videos\"}".into());
}

/// Every `tokportal_` metric name in `query`.
fn metric_names(query: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = query;
    while let Some(at) = rest.find("tokportal_") {
        let tail = &rest[at..];
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
        names.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

/// The queries of a Grafana dashboard: every `expr` (panels) and `query`
/// (template variables) string in it.
fn dashboard_queries(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr", Value::String(q)) => out.push(q.clone()),
                    ("query", Value::String(q)) => out.push(q.clone()),
                    ("query", Value::Object(q)) => {
                        out.extend(q.get("query").and_then(Value::as_str).map(String::from))
                    }
                    _ => dashboard_queries(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| dashboard_queries(item, out)),
        _ => {}
    }
}

/// The names the queries use that `exported` lacks.
fn unknown(queries: &[String], exported: &BTreeSet<String>) -> BTreeSet<String> {
    queries.iter().flat_map(|q| metric_names(q)).filter(|n| !exported.contains(n)).collect()
}

#[sqlx::test]
async fn every_metric_the_dashboard_and_the_alert_rules_query_is_one_the_daemon_exports(pool: PgPool) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("grafana/tokportal-sync.json")).unwrap())
            .unwrap();
    let mut panels = Vec::new();
    dashboard_queries(&dashboard, &mut panels);
    let rules: Vec<String> = std::fs::read_to_string(root.join("prometheus/alerts.yml"))
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("expr:").map(|q| q.trim().to_string()))
        .collect();
    assert!(
        panels.len() >= 10 && rules.len() >= 10,
        "queries found: {} panels, {} rules",
        panels.len(),
        rules.len()
    );

    let text = fresh_metrics(&pool).await;
    let exported: BTreeSet<String> = samples(&text).iter().map(|(s, _)| name(s).to_string()).collect();
    assert_eq!(
        unknown(&panels, &exported),
        BTreeSet::new(),
        "the dashboard queries metrics the daemon does not export"
    );
    assert_eq!(
        unknown(&rules, &exported),
        BTreeSet::new(),
        "the alert rules query metrics the daemon does not export"
    );
    // The check sees a misspelled name.
    let typo = vec!["rate(tokportal_sync_run_total[5m]) > 0".to_string()];
    assert_eq!(unknown(&typo, &exported), BTreeSet::from(["tokportal_sync_run_total".to_string()]));
}

#[sqlx::test]
async fn a_429_block_on_the_key_shows_as_the_seconds_it_has_left_for_each_client(pool: PgPool) {
    let (daemon, base, sim) = idle_daemon(&pool).await;
    // The key's row as a 429 storm leaves it (the first booking creates it otherwise).
    let key = secrecy::SecretString::from(tokportal_sync::sim::DEMO_KEY);
    sqlx::query(
        "INSERT INTO tokportal.api_budgets (key_fingerprint, blocked_until) VALUES ($1, now() + interval '10 minutes')",
    )
    .bind(tokportal_sync::secret::fingerprint(&key))
    .execute(&pool)
    .await
    .unwrap();
    let blocked = |text: &str, client: &str| -> f64 {
        let series = format!("tokportal_api_budget_blocked_seconds{{client=\"{client}\"}} ");
        let line = text.lines().find(|l| l.starts_with(&series)).expect("the series");
        line[series.len()..].parse().unwrap()
    };
    let text = scrape_until(&daemon, &base, |t| {
        t.contains("\ntokportal_postgres_up 1\n") && blocked(t, "sync") > 0.0
    })
    .await;
    // One key for both clients here: the same block.
    for client in CLIENTS {
        let left = blocked(&text, client);
        assert!((500.0..=600.0).contains(&left), "{client}: {left}");
    }
    sqlx::query("UPDATE tokportal.api_budgets SET blocked_until = NULL").execute(&pool).await.unwrap();
    scrape_until(&daemon, &base, |t| blocked(t, "sync") == 0.0 && blocked(t, "replay") == 0.0).await;
    stop(daemon, sim).await;
}
