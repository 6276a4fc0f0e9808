//! A `worker sync` killed with SIGKILL mid-walk resumes from its checkpoint
//! on the next run and finishes without re-reading the pages before it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokportal_sync::sim::{DEMO_KEY, SimConfig};

use super::support::live_bundles;
use crate::helpers::{database_url, text, worker};

fn env<'a>(url: &'a str, base: &'a str, rate: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("DATABASE_URL", url),
        ("TOKPORTAL_API_KEY", DEMO_KEY),
        ("TOKPORTAL__API__BASE_URL", base),
        ("TOKPORTAL__API__PER_PAGE", "10"),
        ("TOKPORTAL__API__RATE_PER_SECOND", rate),
        ("TOKPORTAL__API__BURST", "1"),
    ]
}

#[sqlx::test]
async fn a_worker_killed_mid_walk_resumes_from_its_checkpoint_without_rereading_earlier_pages(pool: PgPool) {
    // A paced simulator (a bucket of 2 refilling at 30 a second): the worker
    // follows the server's bucket size and paces below its rate, so the walk
    // is still running when killed and meets no 429.
    let config = SimConfig { bundles: 600, rate_per_second: 30.0, burst: 2, ..SimConfig::default() };
    let sim = tokportal_sync::sim::start(config).await.unwrap();
    let url = database_url(&pool).await;
    let base = sim.base_url().to_string();
    let dir = tempfile::tempdir().unwrap();

    // 60 pages at 20 requests a second: about 3 s.
    let mut child = Command::new(env!("CARGO_BIN_EXE_worker"))
        .args(["sync", "--stream", "bundles"])
        .current_dir(dir.path())
        .env_clear()
        .envs(env(&url, &base, "20"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let last_page = loop {
        let page: Option<i32> = sqlx::query_scalar("SELECT max(last_page) FROM tokportal.sync_runs")
            .fetch_one(&pool)
            .await
            .unwrap();
        if page.is_some_and(|p| p >= 5) {
            break page;
        }
        assert!(Instant::now() < deadline, "the walk never reached page 5");
        assert!(child.try_wait().unwrap().is_none(), "the worker ended before it was killed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let killed_at: i32 = sqlx::query_scalar("SELECT last_page FROM tokportal.sync_runs ORDER BY id LIMIT 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(killed_at >= last_page.unwrap());
    let committed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tokportal.bundles").fetch_one(&pool).await.unwrap();
    assert!(committed >= i64::from(killed_at) * 10, "every committed page's rows are there");

    // The simulator shares this test's runtime: wait for the worker off it.
    let path = dir.path().to_path_buf();
    let (url2, base2) = (url.clone(), base.clone());
    let out = tokio::task::spawn_blocking(move || {
        worker(&path, &["sync", "--stream", "bundles"], &env(&url2, &base2, "20"))
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let runs: Vec<(String, String, Option<i32>, i32)> =
        sqlx::query_as("SELECT kind, status, resumed_from_page, pages FROM tokportal.sync_runs ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(runs[0].1, "interrupted", "the killed run is closed by the next one");
    assert_eq!((runs[1].0.as_str(), runs[1].1.as_str()), ("resumed", "succeeded"));
    assert_eq!(runs[1].2, Some(killed_at), "resumed one page back from the first page not committed");
    assert_eq!(runs[1].3, 60 - killed_at + 1, "only the pages from the checkpoint on were read");
    assert_eq!(live_bundles(&pool).await.len(), 600);
    sim.shutdown().await;
}
