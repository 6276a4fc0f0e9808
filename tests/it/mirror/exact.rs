//! After a walk the mirror equals the simulator's dataset, an unchanged
//! account rewrites nothing, and a malformed page commits nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;
use sqlx::PgPool;
use tokportal_sync::mirror::Status;

use super::support::{assert_mirror_equals, mirror, proxied, settings, sim, sync, sync_all};

/// Every row's `xmin`: a row rewritten in any way gets a new one.
async fn versions(pool: &PgPool, table: &str) -> Vec<(String, String)> {
    let sql =
        format!("SELECT ctid::text || '/' || xmin::text, coalesce(data->>'id', '') FROM {table} ORDER BY 1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await.unwrap()
}

#[sqlx::test]
async fn a_first_sync_makes_the_mirror_equal_the_simulators_dataset_children_included(pool: PgPool) {
    let sim = sim(137).await;
    let m = mirror(&pool, &sim, settings());
    let runs = sync_all(&m).await;
    for run in &runs {
        assert_eq!(run.status, Status::Succeeded, "{}: {:?}", run.stream, run.error);
    }
    assert_eq!(runs[0].tally.inserted, 137);
    assert_eq!(runs[0].tally.pages, 6, "137 bundles at 25 a page");
    assert_mirror_equals(&pool, &sim).await;
    // The typed columns are copies of the item's fields.
    let mismatched: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tokportal.bundles WHERE status IS DISTINCT FROM data->>'status' \
         OR title IS DISTINCT FROM data->>'title' OR created_at IS DISTINCT FROM (data->>'created_at')::timestamptz",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(mismatched, 0);
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_second_walk_of_an_unchanged_account_rewrites_no_row(pool: PgPool) {
    let sim = sim(120).await;
    let m = mirror(&pool, &sim, settings());
    sync_all(&m).await;
    let tables = ["tokportal.bundles", "tokportal.bundle_videos", "tokportal.bundle_accounts"];
    let mut before = Vec::new();
    for table in tables {
        before.push(versions(&pool, table).await);
    }
    // Every child due again, so the children are fetched and compared too.
    sqlx::query("UPDATE tokportal.child_refreshes SET refreshed_at = refreshed_at - interval '30 days'")
        .execute(&pool)
        .await
        .unwrap();
    let runs = sync_all(&m).await;
    assert_eq!((runs[0].tally.inserted, runs[0].tally.updated, runs[0].tally.unchanged), (0, 0, 120));
    assert!(runs[1].tally.pages > 0 && runs[2].tally.pages == 120, "the children were fetched again");
    for (table, before) in tables.iter().zip(before) {
        assert_eq!(versions(&pool, table).await, before, "{table} was rewritten");
    }
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_changed_bundle_is_rewritten_and_only_its_changed_at_moves(pool: PgPool) {
    let sim = sim(60).await;
    let m = mirror(&pool, &sim, settings());
    sync(&m, "bundles").await;
    let id = sim.bundle_ids()[30].clone();
    let changed_at = |pool: PgPool| async move {
        sqlx::query_as::<_, (String, chrono::DateTime<chrono::Utc>)>(
            "SELECT id, changed_at FROM tokportal.bundles ORDER BY id",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    let before = changed_at(pool.clone()).await;
    let set = json!({"title": "Renamed ✓", "brand_new_field": {"x": 1}});
    assert!(sim.change_bundle(&id, set.as_object().unwrap().clone()));
    let run = sync(&m, "bundles").await;
    assert_eq!((run.tally.inserted, run.tally.updated, run.tally.unchanged), (0, 1, 59));
    let after = changed_at(pool.clone()).await;
    for ((bid, old), (_, new)) in before.iter().zip(&after) {
        assert_eq!(old != new, *bid == id, "changed_at of {bid}");
    }
    let (title, field): (Option<String>, serde_json::Value) =
        sqlx::query_as("SELECT title, data->'brand_new_field' FROM tokportal.bundles WHERE id = $1")
            .bind(&id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(title.as_deref(), Some("Renamed ✓"));
    assert_eq!(field, json!({"x": 1}), "unknown fields are kept");
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_malformed_page_fails_the_run_naming_the_page_commits_nothing_of_it_and_the_next_run_resumes_there(
    pool: PgPool,
) {
    let sim = sim(100).await;
    let broken = Arc::new(AtomicBool::new(true));
    let flag = broken.clone();
    let m = proxied(&pool, &sim, move |query: String| {
        let cut = flag.load(Ordering::SeqCst) && query.split('&').any(|p| p == "page=3");
        async move { cut.then(|| r#"{"data":[{"id":"cut-off"#.to_string()) }
    })
    .await;

    let failed = sync(&m, "bundles").await;
    assert_eq!(failed.status, Status::Failed);
    let error = format!("{:#}", failed.error.expect("an error"));
    assert!(error.contains("page=3") && error.contains("cut-off"), "the page and an excerpt: {error}");
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tokportal.bundles").fetch_one(&pool).await.unwrap();
    assert_eq!(rows, 50, "pages 1 and 2 are committed, nothing of page 3");
    let (status, last_page, stored): (String, Option<i32>, Option<String>) =
        sqlx::query_as("SELECT status, last_page, error FROM tokportal.sync_runs WHERE id = $1")
            .bind(failed.run_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), last_page), ("failed", Some(2)));
    assert!(stored.is_some_and(|e| e.contains("page=3")));

    broken.store(false, Ordering::SeqCst);
    let next = sync(&m, "bundles").await;
    assert_eq!(next.status, Status::Succeeded, "{:?}", next.error);
    assert_eq!(next.resumed_from_page, Some(2), "one page back from the first page not committed");
    assert_eq!(next.tally.pages, 3, "pages 2, 3 and 4");
    assert_eq!(super::support::live_bundles(&pool).await.len(), 100);
    sim.shutdown().await;
}
