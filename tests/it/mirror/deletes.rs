//! Soft deletes: confirmed one by one while few, after two missed walks when
//! many, never beyond the guard, never from a resumed walk; revival.

use sqlx::PgPool;
use tokportal_sync::mirror::runs::{self, Tally};
use tokportal_sync::mirror::streams::BUNDLES;
use tokportal_sync::mirror::{Status, deletes};

use super::support::{live_bundles, mirror, settings, sim, sync, sync_all};

async fn deleted_ids(pool: &PgPool, table: &str, column: &str) -> Vec<String> {
    let sql = format!("SELECT DISTINCT {column} FROM {table} WHERE deleted_at IS NOT NULL ORDER BY 1");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await.unwrap()
}

#[sqlx::test]
async fn a_bundle_gone_upstream_is_confirmed_by_a_404_and_marked_deleted_with_its_children(pool: PgPool) {
    let sim = sim(80).await;
    let m = mirror(&pool, &sim, settings());
    sync_all(&m).await;
    let mut gone = sim.delete_bundles(&sim.bundle_ids()[10..13]);
    gone.sort();
    let run = sync(&m, "bundles").await;
    assert_eq!(run.status, Status::Succeeded, "{:?}", run.error);
    assert_eq!((run.tally.deleted, run.tally.delete_checks), (3, 3));
    assert_eq!(deleted_ids(&pool, "tokportal.bundles", "id").await, gone);
    assert_eq!(deleted_ids(&pool, "tokportal.bundle_accounts", "bundle_id").await, gone);
    let slots = deleted_ids(&pool, "tokportal.bundle_videos", "bundle_id").await;
    assert!(slots.iter().all(|id| gone.contains(id)) && !slots.is_empty(), "{slots:?}");
    assert_eq!(live_bundles(&pool).await.len(), 77);
    sim.shutdown().await;
}

/// A complete walk started now that saw every mirrored bundle but `skipped`.
async fn walk_that_missed(pool: &PgPool, skipped: &str) -> (i64, chrono::DateTime<chrono::Utc>) {
    let (run_id, started) = runs::start(pool, "bundles", "full", None, None).await.unwrap();
    sqlx::query("INSERT INTO tokportal.sync_seen (run_id, id, anchor) SELECT $1, id, true FROM tokportal.bundles WHERE id <> $2")
        .bind(run_id)
        .bind(skipped)
        .execute(pool)
        .await
        .unwrap();
    (run_id, started)
}

#[sqlx::test]
async fn a_row_a_complete_walk_missed_but_the_api_still_has_is_kept(pool: PgPool) {
    let sim = sim(40).await;
    let m = mirror(&pool, &sim, settings());
    sync(&m, "bundles").await;
    // A walk that saw every row but one, as an offset walk over an unstable order can.
    let skipped = sim.bundle_ids()[5].clone();
    let (run_id, started) = walk_that_missed(&pool, &skipped).await;
    let mut tally = Tally::default();
    deletes::settle(&m, &BUNDLES, run_id, started, &mut tally).await.unwrap();
    assert_eq!((tally.delete_checks, tally.deleted), (1, 0), "GET /bundles/{{id}} found it");
    assert_eq!(live_bundles(&pool).await.len(), 40);
    sim.shutdown().await;
}

#[sqlx::test]
async fn the_delete_guard_refuses_to_mark_more_than_the_allowed_share_and_says_why(pool: PgPool) {
    let sim = sim(50).await;
    let m = mirror(&pool, &sim, settings());
    sync(&m, "bundles").await;
    sim.delete_bundles(&sim.bundle_ids()[..11]);
    let run = sync(&m, "bundles").await;
    assert_eq!(run.status, Status::Succeeded);
    assert_eq!(run.tally.deleted, 0, "11 of 50 is more than 20%");
    assert_eq!(run.tally.delete_refused, 11, "the metrics count the rows kept live");
    let note = run.note.expect("a note");
    assert!(note.contains("delete guard") && note.contains("11 of 50"), "{note}");
    assert_eq!(live_bundles(&pool).await.len(), 50);
    let stored: String = sqlx::query_scalar("SELECT note FROM tokportal.sync_runs WHERE id = $1")
        .bind(run.run_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(stored.contains("delete guard"));
    // An operator who knows the account lost them lets one run through.
    let mut open = settings();
    open.max_delete_fraction = 1.0;
    let run = sync(&mirror(&pool, &sim, open), "bundles").await;
    assert_eq!((run.tally.deleted, run.tally.delete_refused), (11, 0));
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_row_missed_once_then_seen_again_starts_counting_afresh(pool: PgPool) {
    let sim = sim(30).await;
    let mut s = settings();
    s.max_delete_checks = 0;
    let m = mirror(&pool, &sim, s);
    sync(&m, "bundles").await;
    let id = sim.bundle_ids()[3].clone();
    sqlx::query("UPDATE tokportal.bundles SET missing_walks = 1 WHERE id = $1")
        .bind(&id)
        .execute(&pool)
        .await
        .unwrap();
    sync(&m, "bundles").await;
    let missed: i32 = sqlx::query_scalar("SELECT missing_walks FROM tokportal.bundles WHERE id = $1")
        .bind(&id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(missed, 0);
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_deleted_bundle_that_comes_back_is_revived(pool: PgPool) {
    let sim = sim(30).await;
    let m = mirror(&pool, &sim, settings());
    sync(&m, "bundles").await;
    let id = sim.bundle_ids()[7].clone();
    sqlx::query("UPDATE tokportal.bundles SET deleted_at = now() WHERE id = $1")
        .bind(&id)
        .execute(&pool)
        .await
        .unwrap();
    let run = sync(&m, "bundles").await;
    assert_eq!(run.tally.updated, 1, "the revival is a write");
    let deleted: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT deleted_at FROM tokportal.bundles WHERE id = $1")
            .bind(&id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(deleted, None);
    // Its children are fetched again first: the revival counts as a change.
    let plan = tokportal_sync::mirror::children::plan(&m, &tokportal_sync::mirror::streams::BUNDLE_ACCOUNTS)
        .await
        .unwrap();
    assert!(plan.changed.contains(&id), "{plan:?}");
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_resumed_walk_marks_nothing_deleted(pool: PgPool) {
    let sim = sim(100).await;
    let m = mirror(&pool, &sim, settings());
    sync(&m, "bundles").await;
    sim.delete_bundles(&sim.bundle_ids()[..3]);
    // A walk of the stream that stopped after committing page 2.
    sqlx::query(
        "INSERT INTO tokportal.sync_runs (stream, status, last_page) VALUES ('bundles', 'failed', 2)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let resumed = sync(&m, "bundles").await;
    assert_eq!((resumed.kind, resumed.resumed_from_page), ("resumed", Some(2)));
    assert_eq!(resumed.tally.deleted, 0);
    assert_eq!(live_bundles(&pool).await.len(), 100);
    let full = sync(&m, "bundles").await;
    assert_eq!((full.kind, full.tally.deleted), ("full", 3));
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_walk_whose_seen_set_was_lost_marks_nothing_deleted(pool: PgPool) {
    let sim = sim(100).await;
    sync(&mirror(&pool, &sim, settings()), "bundles").await;
    sim.delete_bundles(&sim.bundle_ids()[..2]);
    // As if Postgres restarted mid-walk: the unlogged seen set comes back
    // empty, once the walk has recorded ids (a page committed; a page looks
    // the seen set up only for ids it may hold, so nothing else orders the
    // two).
    let db = pool.clone();
    let m = super::support::proxied(&pool, &sim, move |query: String| {
        let db = db.clone();
        async move {
            if query.split('&').any(|p| p == "page=3") {
                super::support::until_committed(&db, 1).await;
                sqlx::query("TRUNCATE tokportal.sync_seen").execute(&db).await.unwrap();
            }
            None
        }
    })
    .await;
    let run = sync(&m, "bundles").await;
    assert_eq!((run.status, run.complete, run.tally.deleted), (Status::Succeeded, true, 0));
    assert!(run.note.is_some_and(|n| n.contains("were lost")));
    assert_eq!(live_bundles(&pool).await.len(), 100);
    // The next walk, whole again, marks the two.
    assert_eq!(sync(&mirror(&pool, &sim, settings()), "bundles").await.tally.deleted, 2);
    sim.shutdown().await;
}

/// A 404 proves a bundle gone only with its documented code: a route's 404
/// (a wrong `api.base_url`, a proxy) leaves every row live.
#[sqlx::test]
async fn a_404_without_the_documented_code_deletes_nothing(pool: PgPool) {
    let sim = sim(40).await;
    let m = mirror(&pool, &sim, settings());
    sync(&m, "bundles").await;
    let skipped = sim.bundle_ids()[5].clone();
    let (run_id, started) = walk_that_missed(&pool, &skipped).await;
    let route_404 = axum::Router::new().fallback(|| async {
        (axum::http::StatusCode::NOT_FOUND, r#"{"error":{"code":"NOT_FOUND","message":"no such route"}}"#)
    });
    let (options, server) = crate::api_support::scripted(route_404).await;
    let client = crate::api_support::client(options, crate::api_support::budget_options(1000.0, 1000));
    let m = tokportal_sync::mirror::Mirror { client, ..m };
    let mut tally = Tally::default();
    let note = deletes::settle(&m, &BUNDLES, run_id, started, &mut tally).await.unwrap();
    assert_eq!((tally.delete_checks, tally.deleted), (1, 0), "{note:?}");
    assert!(note.is_some_and(|n| n.contains("could not be confirmed")));
    assert_eq!(live_bundles(&pool).await.len(), 40);
    server.abort();
    sim.shutdown().await;
}
