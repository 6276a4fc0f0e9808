//! `worker sync` and `worker runs` as a person runs them.

use std::path::PathBuf;

use sqlx::PgPool;
use tokportal_sync::sim::DEMO_KEY;

use super::support::sim;
use crate::helpers::{database_url, text, worker};

/// Runs the worker off the test's runtime (the simulator shares it).
async fn run(
    dir: PathBuf,
    args: Vec<&'static str>,
    env: Vec<(&'static str, String)>,
) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        worker(&dir, &args, &env)
    })
    .await
    .unwrap()
}

fn env(url: &str, base: &str, key: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", url.to_string()),
        ("TOKPORTAL_API_KEY", key.to_string()),
        ("TOKPORTAL__API__BASE_URL", base.to_string()),
        ("TOKPORTAL__API__RATE_PER_SECOND", "1000".into()),
        ("TOKPORTAL__API__BURST", "1000".into()),
    ]
}

#[sqlx::test]
async fn worker_sync_mirrors_every_stream_and_worker_runs_shows_the_runs(pool: PgPool) {
    let sim = sim(45).await;
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let env = env(&url, sim.base_url().as_str(), DEMO_KEY);
    let out = run(dir.path().into(), vec!["sync"], env.clone()).await;
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    for stream in ["bundles: succeeded (full)", "bundle_videos: succeeded", "bundle_accounts: succeeded"] {
        assert!(err.contains(stream), "{stream} in {err}");
    }
    assert!(err.contains("45 inserted"), "{err}");

    let out = run(dir.path().into(), vec!["runs", "--limit", "2"], env.clone()).await;
    let table = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(table.lines().count(), 4, "a header, two runs and the staleness: {table}");
    assert!(
        table.lines().nth(1).is_some_and(|l| l.contains("bundle_accounts") && l.contains("succeeded")),
        "{table}"
    );
    // Just synced: the walk started seconds ago, every child was fetched since.
    let staleness = table.lines().last().unwrap();
    assert!(staleness.starts_with("staleness: oldest list walk: bundles, started "), "{staleness}");
    let age = |after: &str| -> f64 {
        let rest = &staleness[staleness.find(after).unwrap() + after.len()..];
        rest.split(' ').next().unwrap().parse().unwrap()
    };
    assert!(age("bundles, started ") >= 0.0 && age("bundles, started ") < 600.0, "{staleness}");
    assert!(staleness.contains("oldest children of a non-terminal bundle: bundle_"), "{staleness}");
    assert!(
        age(", fetched ") <= age("bundles, started "),
        "children fetched after the walk started: {staleness}"
    );

    let out = run(dir.path().into(), vec!["runs", "--stream", "bundles", "--json"], env).await;
    let rows: Vec<serde_json::Value> =
        text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0]["inserted"].as_i64(), rows[0]["complete"].as_bool()), (Some(45), Some(true)));
    sim.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn worker_sync_on_a_database_without_the_migrations_says_to_migrate(pool: PgPool) {
    let sim = sim(5).await;
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path().into(), vec!["sync"], env(&url, sim.base_url().as_str(), DEMO_KEY)).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("run `worker migrate` first"), "{}", text(&out.stderr));
    sim.shutdown().await;
}

#[sqlx::test]
async fn worker_sync_exits_3_when_the_api_refuses_the_key(pool: PgPool) {
    let sim = sim(5).await;
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let wrong = "sk_0000000000000000000000000000000000000000000000000000000000000000";
    let out = run(
        dir.path().into(),
        vec!["sync", "--stream", "bundles"],
        env(&url, sim.base_url().as_str(), wrong),
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains(wrong), "the key never shows");
    // Refused at the account check (`GET /me`), before any walk wrote a row.
    let runs: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tokportal.sync_runs").fetch_one(&pool).await.unwrap();
    assert_eq!(runs, 0);
    sim.shutdown().await;
}

#[sqlx::test]
async fn worker_problems_lists_what_the_walks_set_aside(pool: PgPool) {
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let env = env(&url, "http://127.0.0.1:9/", DEMO_KEY);
    let out = run(dir.path().into(), vec!["problems"], env.clone()).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("no problems"), "{}", text(&out.stdout));
    let mut conn = pool.acquire().await.unwrap();
    tokportal_sync::mirror::problems::record(
        &mut conn,
        "bundle_videos",
        "b-1",
        "BUNDLE_NOT_OWNED",
        "HTTP 403",
    )
    .await
    .unwrap();
    let out = run(dir.path().into(), vec!["problems"], env.clone()).await;
    let table = text(&out.stdout);
    assert_eq!(table.lines().count(), 2, "a header and one problem: {table}");
    assert!(table.contains("bundle_videos") && table.contains("b-1") && table.contains("BUNDLE_NOT_OWNED"));
    let out = run(dir.path().into(), vec!["problems", "--json"], env).await;
    let row: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!((row["code"].as_str(), row["attempts"].as_i64()), (Some("BUNDLE_NOT_OWNED"), Some(1)));
}

#[sqlx::test]
async fn worker_sync_runs_the_per_parent_and_snapshot_streams_after_their_lists_and_worker_runs_shows_them(
    pool: PgPool,
) {
    let sim = sim(10).await;
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = env(&url, sim.base_url().as_str(), DEMO_KEY);
    env.push(("TOKPORTAL__SYNC__STREAMS", "credit_balance,account_analytics,accounts".into()));
    let out = run(dir.path().into(), vec!["sync"], env.clone()).await;
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    let at = |line: &str| err.find(line).unwrap_or_else(|| panic!("{line} in {err}"));
    // The list first, then what hangs from its rows, then the rest.
    assert!(at("accounts: succeeded (full)") < at("account_analytics: succeeded (parents)"), "{err}");
    assert!(
        at("account_analytics: succeeded (parents)") < at("credit_balance: succeeded (snapshot)"),
        "{err}"
    );
    assert!(err.contains("2 inserted"), "two accounts' analytics: {err}");

    let out = run(dir.path().into(), vec!["runs"], env).await;
    let table = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = |stream: &str| {
        table.lines().find(|l| l.contains(stream)).unwrap_or_else(|| panic!("{stream}: {table}"))
    };
    assert!(
        line("account_analytics").contains(" parents ") && line("account_analytics").contains("succeeded")
    );
    assert!(line("credit_balance").contains(" snapshot ") && line("credit_balance").contains("succeeded"));
    sim.shutdown().await;
}
