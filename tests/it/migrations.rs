//! Migrations: every table of the schema, idempotent, safe to run from two
//! processes at once; and the CHECK constraints of the mutation queue.

use sqlx::PgPool;
use tokportal_sync::db;

use crate::helpers::{database_url, text, worker};

const TABLES: &[&str] = &[
    "account_analytics_snapshots",
    "account_bans",
    "accounts",
    "api_budgets",
    "bundle_accounts",
    "bundle_videos",
    "bundles",
    "child_refreshes",
    "comments",
    "credit_balance_snapshots",
    "credit_transactions",
    "mirror_account",
    "mutation_attempts",
    "mutation_jobs",
    "parent_fetches",
    "sync_problems",
    "sync_runs",
    "sync_seen",
    "webhook_deliveries",
    "webhook_endpoints",
    "webhook_events",
];

async fn tables(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'tokportal' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = false)]
async fn migrate_creates_every_table_and_a_second_run_changes_nothing(pool: PgPool) {
    let first = db::migrate(&pool).await.unwrap();
    assert_eq!(first, db::MIGRATOR.iter().count());
    assert_eq!(tables(&pool).await, TABLES);
    assert_eq!(db::migrate(&pool).await.unwrap(), 0);
    assert_eq!(tables(&pool).await, TABLES);
}

#[sqlx::test(migrations = false)]
async fn two_worker_processes_can_migrate_the_same_database_at_once(pool: PgPool) {
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let run = |dir: std::path::PathBuf, url: String| {
        std::thread::spawn(move || worker(&dir, &["migrate"], &[("DATABASE_URL", &url)]))
    };
    let a = run(dir.path().to_path_buf(), url.clone());
    let b = run(dir.path().to_path_buf(), url.clone());
    for out in [a.join().unwrap(), b.join().unwrap()] {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    assert_eq!(tables(&pool).await, TABLES);
    let out = worker(dir.path(), &["migrate"], &[("DATABASE_URL", &url)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn migrate_without_database_url_exits_2_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = worker(dir.path(), &["migrate"], &[]);
    assert_eq!(out.status.code(), Some(2), "a missing setting is a configuration error");
    assert!(text(&out.stderr).contains("DATABASE_URL is not set"), "{}", text(&out.stderr));
}

async fn enqueue(pool: &PgPool, method: &str, path: &str) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO tokportal.mutation_jobs (method, path, body) VALUES ($1, $2, '{}') RETURNING idempotency_key",
    )
    .bind(method)
    .bind(path)
    .fetch_one(pool)
    .await
}

fn violated(result: Result<String, sqlx::Error>) -> String {
    match result {
        Err(sqlx::Error::Database(e)) => e.constraint().unwrap_or_default().to_string(),
        other => panic!("expected a constraint violation, got {other:?}"),
    }
}

#[sqlx::test(migrator = "tokportal_sync::db::MIGRATOR")]
async fn a_plain_insert_enqueues_a_job_with_a_fresh_idempotency_key(pool: PgPool) {
    let a = enqueue(&pool, "POST", "/bundles").await.unwrap();
    let b = enqueue(&pool, "POST", "/bundles").await.unwrap();
    assert_ne!(a, b);
    assert!(uuid::Uuid::parse_str(&a).is_ok(), "{a}");
    let (status, attempts): (String, i32) =
        sqlx::query_as("SELECT status, attempts FROM tokportal.mutation_jobs WHERE idempotency_key = $1")
            .bind(&a)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), attempts), ("queued", 0));
}

#[sqlx::test(migrator = "tokportal_sync::db::MIGRATOR")]
async fn the_queue_rejects_bad_methods_long_keys_and_sensitive_operations(pool: PgPool) {
    assert_eq!(violated(enqueue(&pool, "GET", "/bundles").await), "mutation_jobs_method_check");
    assert_eq!(violated(enqueue(&pool, "POST", "bundles").await), "mutation_jobs_path_check");
    for path in [
        "/accounts/acc_1/verification-code",
        "/accounts/acc_1/reveal-credentials",
        "/webhooks",
        "/upload/video",
        "/upload/image/",
        "/analytics/export/reports?x=1",
    ] {
        assert_eq!(
            violated(enqueue(&pool, "POST", path).await),
            "mutation_jobs_no_sensitive_operations",
            "{path}"
        );
    }
    // The same paths with other methods, and lookalike paths, are fine.
    enqueue(&pool, "DELETE", "/webhooks").await.unwrap();
    enqueue(&pool, "POST", "/webhooks/wh_1/test").await.unwrap();
    let long = "k".repeat(256);
    let too_long = sqlx::query_scalar::<_, String>(
        "INSERT INTO tokportal.mutation_jobs (idempotency_key, method, path) VALUES ($1, 'POST', '/bundles') RETURNING idempotency_key",
    )
    .bind(&long)
    .fetch_one(&pool)
    .await;
    assert_eq!(violated(too_long), "mutation_jobs_idempotency_key_check");
    let bad_status = sqlx::query("UPDATE tokportal.mutation_jobs SET status = 'done'").execute(&pool).await;
    assert!(
        matches!(bad_status, Err(sqlx::Error::Database(e)) if e.constraint() == Some("mutation_jobs_status_check"))
    );
}
