//! Continuous mode (`sync.schedule = "continuous"`): the daemon keeps
//! refreshing without a schedule tick, so a change upstream, to a list item
//! or only to a non-terminal bundle's slots and account, reaches the mirror
//! on its own; SIGTERM stops it cleanly.

use std::time::Duration;

use serde_json::{Map, Value, json};
use sqlx::PgPool;
use tokportal_sync::sim::{self, SimConfig};

use super::support::{Worker, config, env};
use crate::helpers::database_url;

const TERMINAL: [&str; 3] = ["completed", "cancelled", "archived"];

fn set(field: &str, value: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(field.into(), json!(value));
    m
}

/// Waits until `sql` (one bound id) returns `want`, at most `within`.
async fn shows(pool: &PgPool, sql: &'static str, id: &str, want: &str, within: Duration) {
    let deadline = std::time::Instant::now() + within;
    loop {
        let got: Option<String> =
            sqlx::query_scalar(sql).bind(id).fetch_optional(pool).await.unwrap().flatten();
        if got.as_deref() == Some(want) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{sql} ({id}) stayed at {got:?} for {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[sqlx::test]
async fn the_continuous_daemon_converges_a_drifted_mirror_without_a_schedule_tick_and_stops_on_sigterm(
    pool: PgPool,
) {
    let sim =
        sim::start(SimConfig { bundles: 30, rate_per_second: 400.0, burst: 200, ..SimConfig::default() })
            .await
            .unwrap();
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &["bundles", "bundle_videos", "bundle_accounts"], "continuous");
    let mut env = env(&url, sim.base_url().as_str(), "200");
    env.retain(|(k, _)| *k != "TOKPORTAL__API__BURST");
    env.extend([
        ("TOKPORTAL__API__BURST", "40".to_string()),
        ("TOKPORTAL__SYNC__JOBS_RESERVE", "4".to_string()),
        ("TOKPORTAL__SYNC__REFRESH_RESERVE", "4".to_string()),
    ]);
    let mut daemon = Worker::spawn(dir.path(), &[], &env);

    // Two bundles in a non-terminal status with slots: the list item of one
    // changes, only the slots and the account of the other.
    let snapshot = sim.snapshot();
    let mut active = snapshot.iter().filter(|(_, b)| {
        let status = b.item["status"].as_str().unwrap_or_default();
        !TERMINAL.contains(&status) && b.videos.as_array().is_some_and(|v| !v.is_empty())
    });
    let (listed, _) = active.next().expect("a non-terminal bundle with slots");
    let (quiet, _) = active.next().expect("a second one");
    let (listed, quiet) = (listed.clone(), quiet.clone());

    // First, the mirror holds every bundle and every child once.
    let bundle_title = "SELECT title FROM tokportal.bundles WHERE id = $1";
    let want = snapshot[&listed].item["title"].as_str().unwrap().to_string();
    shows(&pool, bundle_title, &listed, &want, Duration::from_secs(60)).await;
    let fetched =
        "SELECT count(*)::text FROM tokportal.child_refreshes WHERE stream = 'bundle_accounts' AND $1 <> ''";
    shows(&pool, fetched, "x", "30", Duration::from_secs(60)).await;

    // Then the account drifts, with no webhook and no schedule tick to come.
    assert!(sim.change_bundle(&listed, set("title", "drifted title")));
    assert!(sim.change_video(&quiet, 1, set("caption", "drifted caption")));
    assert!(sim.change_account(&quiet, set("bio", "drifted bio")));
    shows(&pool, bundle_title, &listed, "drifted title", Duration::from_secs(60)).await;
    let caption =
        "SELECT data->>'caption' FROM tokportal.bundle_videos WHERE bundle_id = $1 AND position = 1";
    shows(&pool, caption, &quiet, "drifted caption", Duration::from_secs(60)).await;
    let bio = "SELECT data->>'bio' FROM tokportal.bundle_accounts WHERE bundle_id = $1";
    shows(&pool, bio, &quiet, "drifted bio", Duration::from_secs(60)).await;

    daemon.sigterm();
    assert_eq!(daemon.exit_within(Duration::from_secs(15)).await.code(), Some(0), "{}", daemon.log());
    let log = daemon.log();
    assert!(log.contains("continuous sync") && !log.contains("scheduled sync"), "{log}");
    assert!(log.contains("stopped"), "{log}");
    let running: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tokportal.sync_runs WHERE status = 'running'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(running, 0, "every run was closed at the stop");
    sim.shutdown().await;
}
