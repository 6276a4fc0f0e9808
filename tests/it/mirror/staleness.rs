//! The staleness the metrics show, read from Postgres at each scrape: the
//! age of each list's last walk that brought it up to date, the oldest
//! children of a bundle still moving, and the problems set aside now.

use chrono::{Duration as Span, Utc};
use sqlx::PgPool;
use tokportal_sync::mirror::{child_refreshes, problems, runs};

async fn run(pool: &PgPool, stream: &str, kind: &str, status: &str, complete: bool, minutes_ago: i32) {
    sqlx::query(
        "INSERT INTO tokportal.sync_runs (stream, kind, status, complete, started_at, finished_at) \
         VALUES ($1, $2, $3, $4, now() - make_interval(mins => $5), now())",
    )
    .bind(stream)
    .bind(kind)
    .bind(status)
    .bind(complete)
    .bind(minutes_ago)
    .execute(pool)
    .await
    .unwrap();
}

/// A live bundle in `status`, first seen `seen_mins` ago, whose `stream`
/// children were fetched `refreshed_mins` ago (never when `None`).
async fn bundle(pool: &PgPool, id: &str, status: &str, seen_mins: i32, refreshed_mins: Option<i32>) {
    sqlx::query(
        "INSERT INTO tokportal.bundles (id, status, data, first_seen_at, changed_at) \
         VALUES ($1, $2, jsonb_build_object('id', $1::text, 'status', $2::text, 'videos_quantity', 2), \
                 now() - make_interval(mins => $3), now() - make_interval(mins => $3))",
    )
    .bind(id)
    .bind(status)
    .bind(seen_mins)
    .execute(pool)
    .await
    .unwrap();
    if let Some(mins) = refreshed_mins {
        sqlx::query(
            "INSERT INTO tokportal.child_refreshes (stream, bundle_id, refreshed_at, bundle_changed_at) \
             SELECT 'bundle_videos', id, now() - make_interval(mins => $2), changed_at \
             FROM tokportal.bundles WHERE id = $1",
        )
        .bind(id)
        .bind(mins)
        .execute(pool)
        .await
        .unwrap();
    }
}

fn close(age: f64, expected_secs: f64) -> bool {
    // The statements run a moment after the rows were written: a few seconds' slack.
    (expected_secs..expected_secs + 30.0).contains(&age)
}

#[sqlx::test]
async fn a_lists_age_counts_from_its_last_walk_that_brought_it_up_to_date(pool: PgPool) {
    run(&pool, "bundles", "full", "succeeded", true, 120).await;
    // Neither brought the list up to date: failed, and stopped before its end.
    run(&pool, "bundles", "full", "failed", false, 30).await;
    run(&pool, "bundles", "resumed", "interrupted", false, 10).await;
    // A ledger's routine run reads its head: up to date without a complete walk.
    run(&pool, "credit_transactions", "full", "succeeded_with_problems", true, 600).await;
    run(&pool, "credit_transactions", "routine", "succeeded", false, 5).await;
    let since = Utc::now() - Span::minutes(45);
    let ages = runs::walk_ages(&pool, &["bundles", "credit_transactions", "accounts"], since).await.unwrap();
    let age =
        |s: &str| ages.iter().find(|(name, _)| name == s).unwrap_or_else(|| panic!("{s} in {ages:?}")).1;
    assert!(close(age("bundles"), 120.0 * 60.0), "{ages:?}");
    assert!(close(age("credit_transactions"), 5.0 * 60.0), "{ages:?}");
    // Never walked: stale since the daemon started.
    assert!(close(age("accounts"), 45.0 * 60.0), "{ages:?}");
    assert_eq!(ages.len(), 3);
}

#[sqlx::test]
async fn the_oldest_children_counted_are_those_of_a_live_bundle_still_moving(pool: PgPool) {
    assert_eq!(child_refreshes::oldest_active_age(&pool, "bundle_videos", true).await.unwrap(), 0.0);
    bundle(&pool, "b_active", "in_review", 600, Some(90)).await;
    bundle(&pool, "b_recent", "accepted", 600, Some(5)).await;
    // Not counted: terminal, deleted, and a bundle without slots for the videos.
    bundle(&pool, "b_done", "completed", 900, Some(800)).await;
    bundle(&pool, "b_gone", "accepted", 900, Some(800)).await;
    sqlx::query("UPDATE tokportal.bundles SET deleted_at = now() WHERE id = 'b_gone'")
        .execute(&pool)
        .await
        .unwrap();
    bundle(&pool, "b_empty", "accepted", 900, Some(800)).await;
    sqlx::query(
        "UPDATE tokportal.bundles SET data = data || '{\"videos_quantity\": 0}' WHERE id = 'b_empty'",
    )
    .execute(&pool)
    .await
    .unwrap();
    let age = child_refreshes::oldest_active_age(&pool, "bundle_videos", true).await.unwrap();
    assert!(close(age, 90.0 * 60.0), "{age}");
    // A bundle whose children were never fetched is stale since it was first seen.
    bundle(&pool, "b_new", "accepted", 200, None).await;
    let age = child_refreshes::oldest_active_age(&pool, "bundle_videos", true).await.unwrap();
    assert!(close(age, 200.0 * 60.0), "{age}");
    // Each child stream has its own refreshes: the accounts of these were
    // never fetched, and a bundle without slots still has an account.
    let accounts = child_refreshes::oldest_active_age(&pool, "bundle_accounts", false).await.unwrap();
    assert!(close(accounts, 900.0 * 60.0), "{accounts}");
}

#[sqlx::test]
async fn the_problems_set_aside_are_counted_by_stream(pool: PgPool) {
    assert!(problems::open_counts(&pool).await.unwrap().is_empty());
    let mut conn = pool.acquire().await.unwrap();
    problems::record(&mut conn, "bundles", "page 3", "NO_ID", "{}").await.unwrap();
    problems::record(&mut conn, "bundle_videos", "b1", "HTTP_500", "").await.unwrap();
    problems::record(&mut conn, "bundle_videos", "b2", "HTTP_500", "").await.unwrap();
    // Counted again, still one problem.
    problems::record(&mut conn, "bundle_videos", "b2", "HTTP_500", "").await.unwrap();
    let mut counts = problems::open_counts(&pool).await.unwrap();
    counts.sort();
    assert_eq!(counts, [("bundle_videos".to_string(), 2), ("bundles".to_string(), 1)]);
}
