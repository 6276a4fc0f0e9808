//! `worker budget show` and `worker budget reset`: a stale shared block (a
//! long `Retry-After`) is visible with its next probe, named by the error a
//! request gets, and cleared by hand; a probe that gets through lifts it.

use secrecy::SecretString;
use sqlx::PgPool;
use tokportal_sync::secret;
use tokportal_sync::sim::DEMO_KEY;

use super::once::sim;
use super::support::{env, run};
use crate::helpers::{database_url, text};

#[sqlx::test]
async fn a_stale_block_is_shown_named_by_the_error_and_cleared_by_reset(pool: PgPool) {
    let sim = sim(5).await;
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = env(&url, sim.base_url().as_str(), "100");
    env.push(("TOKPORTAL__API__MAX_WAIT_SECS", "1".into()));
    let ours = secret::fingerprint(&SecretString::from(DEMO_KEY));
    // A block left by a long Retry-After, its next probe five minutes away,
    // and another client's key booked ahead.
    sqlx::query(
        "INSERT INTO tokportal.api_budgets (key_fingerprint, tat, blocked_until, probe_at) VALUES
         ($1, now(), now() + interval '600 seconds', now() + interval '300 seconds'),
         ('0123456789abcdef', now() + interval '300 seconds', NULL, NULL)",
    )
    .bind(&ours)
    .execute(&pool)
    .await
    .unwrap();

    let out = run(dir.path(), &["budget", "show"], &env).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    let line = shown.lines().find(|l| l.starts_with(&ours)).unwrap_or_else(|| panic!("{shown}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    let blocked: f64 = cols[2].parse().unwrap();
    assert!((590.0..=600.0).contains(&blocked), "{line}");
    let probe: f64 = cols[3].parse().unwrap();
    assert!((290.0..=300.0).contains(&probe), "{line}");
    assert!(line.ends_with("api key"), "{line}");
    let other =
        shown.lines().find(|l| l.starts_with("0123456789abcdef")).unwrap_or_else(|| panic!("{shown}"));
    let booked: f64 = other.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!((290.0..=300.0).contains(&booked), "{other}");
    assert_eq!(other.split_whitespace().nth(3), Some("-"), "no block, no probe: {other}");
    assert!(!shown.contains(DEMO_KEY), "never the key itself");

    let out = run(dir.path(), &["get", "/bundles"], &env).await;
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("worker budget show") && err.contains("worker budget reset"), "{err}");

    let out = run(dir.path(), &["budget", "reset"], &env).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&ours));
    let out = run(dir.path(), &["get", "/bundles"], &env).await;
    assert_eq!(out.status.code(), Some(0), "the block is gone: {}", text(&out.stderr));

    // The other key is untouched until named.
    let booked: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM tat - now())::float8 FROM tokportal.api_budgets WHERE key_fingerprint = '0123456789abcdef'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(booked > 280.0);
    let out = run(dir.path(), &["budget", "reset", "--key-fingerprint", "0123456789abcdef"], &env).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let booked: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM tat - now())::float8 FROM tokportal.api_budgets WHERE key_fingerprint = '0123456789abcdef'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(booked <= 0.0);

    let out = run(dir.path(), &["budget", "reset", "--key-fingerprint", "ffffffffffffffff"], &env).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("worker budget show"), "{}", text(&out.stderr));
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_stale_block_whose_probe_is_due_is_lifted_by_the_next_request(pool: PgPool) {
    let sim = sim(5).await;
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = env(&url, sim.base_url().as_str(), "100");
    env.push(("TOKPORTAL__API__MAX_WAIT_SECS", "1".into()));
    let ours = secret::fingerprint(&SecretString::from(DEMO_KEY));
    // Blocked for ten minutes by a server that has long recovered; the probe is due.
    sqlx::query(
        "INSERT INTO tokportal.api_budgets (key_fingerprint, tat, blocked_until, probe_at)
         VALUES ($1, now(), now() + interval '600 seconds', now())",
    )
    .bind(&ours)
    .execute(&pool)
    .await
    .unwrap();
    let out = run(dir.path(), &["get", "/bundles"], &env).await;
    assert_eq!(out.status.code(), Some(0), "the probe got through: {}", text(&out.stderr));
    let (blocked, probe): (Option<f64>, Option<f64>) = sqlx::query_as(
        "SELECT extract(epoch FROM blocked_until - now())::float8, extract(epoch FROM probe_at - now())::float8
         FROM tokportal.api_budgets WHERE key_fingerprint = $1",
    )
    .bind(&ours)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((blocked, probe), (None, None), "the block is lifted for every process");
    sim.shutdown().await;
}

#[sqlx::test]
async fn api_probe_interval_secs_decides_which_blocks_are_probed(pool: PgPool) {
    let sim = sim(5).await;
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = env(&url, sim.base_url().as_str(), "100");
    env.push(("TOKPORTAL__API__MAX_WAIT_SECS", "1".into()));
    let ours = secret::fingerprint(&SecretString::from(DEMO_KEY));
    // 100 s of block left, never probed yet.
    sqlx::query(
        "INSERT INTO tokportal.api_budgets (key_fingerprint, tat, blocked_until)
         VALUES ($1, now(), now() + interval '100 seconds')",
    )
    .bind(&ours)
    .execute(&pool)
    .await
    .unwrap();
    // Probed every 200 s, a block with 100 s left is waited out: longer than max_wait.
    let mut rare = env.clone();
    rare.push(("TOKPORTAL__API__PROBE_INTERVAL_SECS", "200".into()));
    let out = run(dir.path(), &["get", "/bundles"], &rare).await;
    assert_ne!(out.status.code(), Some(0), "no probe under a 200 s interval");
    assert!(text(&out.stderr).contains("worker budget"), "{}", text(&out.stderr));
    // Probed every 30 s (the default), it is probed now, and lifted.
    let out = run(dir.path(), &["get", "/bundles"], &env).await;
    assert_eq!(out.status.code(), Some(0), "the probe got through: {}", text(&out.stderr));
    let blocked: Option<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM blocked_until - now())::float8 FROM tokportal.api_budgets WHERE key_fingerprint = $1",
    )
    .bind(&ours)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(blocked, None);
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_once_cycle_stopped_by_a_blocked_key_names_the_budget_commands(pool: PgPool) {
    let sim = sim(5).await;
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    super::support::config(dir.path(), &["bundles"], "0 */15 * * * *");
    let mut env = env(&url, sim.base_url().as_str(), "100");
    env.push(("TOKPORTAL__API__MAX_WAIT_SECS", "1".into()));
    super::signals::block_the_key(&pool).await;
    let out = run(dir.path(), &["--once"], &env).await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("rate limited"), "{err}");
    assert!(err.contains("worker budget show") && err.contains("worker budget reset"), "{err}");
    assert_eq!(sim.key_stats(DEMO_KEY).unwrap().requests, 0);
    sim.shutdown().await;
}
