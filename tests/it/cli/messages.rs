//! Messages that say what happened: what `budget reset` cleared, a demo of
//! an empty account, and the budget as JSON.

use sqlx::PgPool;

use super::support::run;
use crate::helpers::{database_url, text};

const KEY: &str = "0123456789abcdef";

async fn budget(dir: &std::path::Path, url: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = run(dir, args, &[("DATABASE_URL", url.to_string())]).await;
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[sqlx::test]
async fn budget_reset_says_what_it_cleared_and_then_that_nothing_was_left(pool: PgPool) {
    let url = database_url(&pool).await;
    sqlx::query(
        "INSERT INTO tokportal.api_budgets (key_fingerprint, tat, blocked_until)
         VALUES ($1, clock_timestamp() + interval '30 seconds', clock_timestamp() + interval '600 seconds')",
    )
    .bind(KEY)
    .execute(&pool)
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let reset = ["budget", "reset", "--key-fingerprint", KEY];

    let (code, out, err) = budget(dir.path(), &url, &reset).await;
    assert_eq!(code, Some(0), "{err}");
    let left: f64 =
        out.split("cleared a block with ").nth(1).and_then(|r| r.split(' ').next()).unwrap().parse().unwrap();
    assert!((500.0..=600.0).contains(&left), "{out}");
    assert!(out.contains("s of requests booked ahead"), "{out}");
    assert!(!out.contains("nothing"), "{out}");

    let (code, out, err) = budget(dir.path(), &url, &reset).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("nothing to clear"), "{out}");
}

#[sqlx::test]
async fn budget_show_json_is_one_object_per_key(pool: PgPool) {
    let url = database_url(&pool).await;
    sqlx::query(
        "INSERT INTO tokportal.api_budgets (key_fingerprint, blocked_until)
         VALUES ($1, clock_timestamp() + interval '600 seconds'), ('fedcba9876543210', NULL)",
    )
    .bind(KEY)
    .execute(&pool)
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = budget(dir.path(), &url, &["budget", "show", "--json"]).await;
    assert_eq!(code, Some(0), "{err}");
    let rows: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert_eq!(rows[0]["key_fingerprint"], KEY);
    assert!(rows[0]["blocked_for_secs"].as_f64().is_some_and(|s| s > 500.0), "{out}");
    assert!(rows[1]["blocked_for_secs"].is_null(), "{out}");
    assert!(rows[1]["configured_as"].as_array().is_some_and(Vec::is_empty), "{out}");
}

#[tokio::test]
async fn the_demo_of_an_empty_account_never_says_page_1_of_0() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["demo", "--walk-only", "--bundles", "0"], &[]).await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("page    1 of 1:"), "{err}");
    assert!(!err.contains(" of 0"), "{err}");
}
