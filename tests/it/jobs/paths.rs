//! Nothing leaves the API's base: a path with a tab or a newline (which URL
//! parsers strip before resolving `..`) is refused at INSERT, and a row that
//! got around the table's checks is failed by the replayer before any send.

use sqlx::PgPool;
use tokportal_sync::jobs::Outcome;
use tokportal_sync::sim::DEMO_KEY;

use super::support::*;

const TAB_PATH: &str = "/.\t./.\t./x";
const MIGRATION: &str = include_str!("../../../migrations/20261206000020_job_path_printable.sql");

async fn insert_path(pool: &PgPool, path: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO tokportal.mutation_jobs (method, path, body) VALUES ('POST', $1, '{}') RETURNING id",
    )
    .bind(path)
    .fetch_one(pool)
    .await
}

async fn drop_check(pool: &PgPool, name: &str) {
    sqlx::query(sqlx::AssertSqlSafe(format!("ALTER TABLE tokportal.mutation_jobs DROP CONSTRAINT {name}")))
        .execute(pool)
        .await
        .unwrap();
}

/// What this file's migration adds, as if it had never run.
async fn drop_checks(pool: &PgPool) {
    drop_check(pool, "mutation_jobs_path_printable").await;
    drop_check(pool, "mutation_jobs_no_sensitive_routes").await;
    sqlx::query("DROP FUNCTION tokportal.mutation_job_route").execute(pool).await.unwrap();
}

#[sqlx::test]
async fn a_plain_insert_of_a_path_with_a_tab_is_refused(pool: PgPool) {
    let refused = insert_path(&pool, TAB_PATH).await.expect_err("the tab path is refused");
    let constraint = refused.as_database_error().and_then(|d| d.constraint().map(str::to_string));
    assert_eq!(constraint.as_deref(), Some("mutation_jobs_path_printable"), "{refused}");
    for path in ["/bundles\n", "/bun dles", "/bundl\u{e9}s"] {
        assert!(insert_path(&pool, path).await.is_err(), "{path:?}");
    }
    insert_path(&pool, "/bundles/b1/publish?x=%20").await.expect("a printable path is accepted");
}

#[sqlx::test]
async fn a_plain_insert_of_an_operation_that_refuses_keys_is_refused_however_its_path_is_written(
    pool: PgPool,
) {
    for path in ["/upload//video", "/%77ebhooks", "/Webhooks/", "/accounts/a1/Reveal-Credentials?x=1"] {
        let refused = insert_path(&pool, path).await.expect_err(path);
        let constraint = refused.as_database_error().and_then(|d| d.constraint().map(str::to_string));
        assert_eq!(constraint.as_deref(), Some("mutation_jobs_no_sensitive_routes"), "{path}: {refused}");
    }
    for path in ["/webhooks/w1/test", "/upload/video/direct", "/%2577ebhooks"] {
        insert_path(&pool, path).await.expect(path);
    }
}

#[sqlx::test]
async fn a_row_that_got_around_the_checks_is_failed_before_it_is_sent(pool: PgPool) {
    let sim = sim().await;
    drop_checks(&pool).await;
    let tab = insert_path(&pool, TAB_PATH).await.unwrap();
    // Passes the table's check on sensitive operations, but a server collapses `//`.
    let sensitive = insert_path(&pool, "/upload//video").await.unwrap();
    let r = replayer(&pool, &sim);
    for id in [tab, sensitive] {
        assert!(matches!(step(&r).await, Outcome::Failed { job, .. } if job == id));
        let failed = job(&pool, id).await;
        assert_eq!(failed.status, "failed");
        let error = failed.last_error.unwrap_or_default();
        assert!(error.contains("not sent"), "{error}");
        assert_eq!(failed.response_status, None);
    }
    assert!(job(&pool, tab).await.last_error.unwrap().contains("visible ASCII"));
    assert!(job(&pool, sensitive).await.last_error.unwrap().contains("secrets"));
    assert_eq!(sim.key_stats(DEMO_KEY).unwrap().requests, 0, "nothing reached the API");
    assert!(sim.ledger().is_empty());
    sim.shutdown().await;
}

async fn validated(pool: &PgPool) -> bool {
    sqlx::query_scalar(
        "SELECT convalidated FROM pg_constraint WHERE conname = 'mutation_jobs_path_printable'",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test]
async fn the_migration_validates_a_clean_table_and_reports_rows_already_there_that_fail(pool: PgPool) {
    enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    assert!(validated(&pool).await, "a table whose rows all pass is validated");

    drop_checks(&pool).await;
    let old = insert_path(&pool, TAB_PATH).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(MIGRATION))
        .execute(&pool)
        .await
        .expect("the migration runs over a row that fails the check");
    assert!(!validated(&pool).await, "left NOT VALID while a row fails it");
    assert!(insert_path(&pool, TAB_PATH).await.is_err(), "new rows are checked all the same");
    assert_eq!(job(&pool, old).await.path, TAB_PATH, "the old row is kept as it was");
}
