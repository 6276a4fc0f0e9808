//! The child planner picks exactly the bundles it should, in its order, within the cap.

use sqlx::PgPool;
use tokportal_sync::mirror::children;
use tokportal_sync::mirror::streams::{BUNDLE_ACCOUNTS as ACCOUNTS, BUNDLE_VIDEOS as VIDEOS};
use tokportal_sync::mirror::{Mirror, Status};

use super::support::{mirror, settings, sim, sync, sync_all};

async fn status_of(pool: &PgPool, terminal: bool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT id FROM tokportal.bundles WHERE (coalesce(status, '') IN ('completed', 'cancelled', 'archived')) = $1 \
         AND NOT (data->>'videos_quantity' = '0') ORDER BY id",
    )
    .bind(terminal)
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn age(pool: &PgPool, id: &str, hours: i32) {
    sqlx::query(
        "UPDATE tokportal.child_refreshes SET refreshed_at = now() - make_interval(hours => $2) WHERE bundle_id = $1",
    )
    .bind(id)
    .bind(hours)
    .execute(pool)
    .await
    .unwrap();
}

fn no_rotation(m: &mut Mirror) {
    // No scheduled period: the rotating slice holds only overdue bundles.
    m.settings.run_period = std::time::Duration::ZERO;
}

#[sqlx::test]
async fn the_planner_picks_changed_then_stale_active_then_overdue_bundles_and_nothing_else(pool: PgPool) {
    let sim = sim(60).await;
    let mut m = mirror(&pool, &sim, settings());
    no_rotation(&mut m);
    sync_all(&m).await;
    assert_eq!(children::plan(&m, &VIDEOS).await.unwrap().requests(), 0, "everything is fresh");

    let (active, terminal) = (status_of(&pool, false).await, status_of(&pool, true).await);
    let changed = active[0].clone();
    let set = serde_json::json!({"title": "changed"});
    assert!(sim.change_bundle(&changed, set.as_object().unwrap().clone()));
    sync(&m, "bundles").await;
    age(&pool, &active[1], 2).await; // older than children_active_refresh (1 h)
    age(&pool, &active[2], 0).await; // fresh: not picked
    age(&pool, &terminal[0], 25).await; // older than children_full_refresh (24 h)
    age(&pool, &terminal[1], 2).await; // terminal and only 2 h old: not picked

    let plan = children::plan(&m, &VIDEOS).await.unwrap();
    assert_eq!(plan.changed, vec![changed.clone()]);
    assert_eq!(plan.active, vec![active[1].clone()]);
    assert_eq!(plan.rotation, vec![terminal[0].clone()]);
    assert_eq!(plan.deferred, 0);

    let run = sync(&m, "bundle_videos").await;
    assert_eq!(run.status, Status::Succeeded);
    assert_eq!(run.tally.requests, 3, "one request per planned bundle");
    let stored: serde_json::Value = sqlx::query_scalar("SELECT plan FROM tokportal.sync_runs WHERE id = $1")
        .bind(run.run_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((stored["changed"].as_u64(), stored["requests"].as_u64()), (Some(1), Some(3)));
    assert_eq!(stored["seconds_at_budget"].as_f64(), Some(1.5), "3 requests at 2/s");
    assert_eq!(children::plan(&m, &VIDEOS).await.unwrap().requests(), 0, "done until they age again");
    sim.shutdown().await;
}

#[sqlx::test]
async fn bundles_without_video_slots_are_never_planned_for_videos(pool: PgPool) {
    let sim = sim(60).await;
    let m = mirror(&pool, &sim, settings());
    sync(&m, "bundles").await;
    let without: Vec<String> =
        sqlx::query_scalar("SELECT id FROM tokportal.bundles WHERE data->>'videos_quantity' = '0'")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(!without.is_empty(), "the seeded dataset has account-only bundles");
    let videos = children::plan(&m, &VIDEOS).await.unwrap();
    assert!(videos.changed.iter().all(|id| !without.contains(id)));
    assert_eq!(videos.changed.len(), 60 - without.len());
    assert_eq!(children::plan(&m, &ACCOUNTS).await.unwrap().changed.len(), 60);
    sim.shutdown().await;
}

#[sqlx::test]
async fn the_cap_leaves_the_rest_for_the_next_run_changed_bundles_first(pool: PgPool) {
    let sim = sim(40).await;
    let mut m = mirror(&pool, &sim, settings());
    no_rotation(&mut m);
    m.settings.max_requests_per_run = 15;
    sync(&m, "bundles").await;
    let first = sync(&m, "bundle_accounts").await;
    assert_eq!(first.tally.requests, 15);
    assert!(first.note.as_deref().is_some_and(|n| n.contains("25 bundles wait")), "{:?}", first.note);
    let second = sync(&m, "bundle_accounts").await;
    assert_eq!(second.tally.requests, 15);
    let third = sync(&m, "bundle_accounts").await;
    assert_eq!(third.tally.requests, 10);
    let accounts: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tokportal.bundle_accounts").fetch_one(&pool).await.unwrap();
    assert_eq!(accounts, 40);
    sim.shutdown().await;
}

/// Only `VIDEO_NOT_FOUND`/`ACCOUNT_NOT_FOUND` say a bundle has no slots or
/// account: a route's 404 fails the run and leaves the stored children live.
#[sqlx::test]
async fn a_404_without_a_documented_code_fails_the_children_run_and_deletes_nothing(pool: PgPool) {
    let sim = sim(30).await;
    let mut m = mirror(&pool, &sim, settings());
    no_rotation(&mut m);
    sync_all(&m).await;
    let changed = status_of(&pool, false).await[0].clone();
    let set = serde_json::json!({"title": "changed"});
    assert!(sim.change_bundle(&changed, set.as_object().unwrap().clone()));
    sync(&m, "bundles").await;
    let live = |pool: PgPool| async move {
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM tokportal.bundle_videos WHERE deleted_at IS NULL")
                .fetch_one(&pool)
                .await
                .unwrap();
        n
    };
    let before = live(pool.clone()).await;
    assert!(before > 0);
    let route_404 = axum::Router::new().fallback(|| async {
        (axum::http::StatusCode::NOT_FOUND, r#"{"error":{"code":"NOT_FOUND","message":"no such route"}}"#)
    });
    let (options, server) = crate::api_support::scripted(route_404).await;
    let client = crate::api_support::client(options, crate::api_support::budget_options(1000.0, 1000));
    let m = Mirror { client, ..m };
    let run = sync(&m, "bundle_videos").await;
    assert_eq!(run.status, Status::Failed, "{:?}", run.note);
    assert!(format!("{:?}", run.error).contains("NOT_FOUND"), "{:?}", run.error);
    assert_eq!(live(pool.clone()).await, before, "no slot marked deleted");
    server.abort();
    sim.shutdown().await;
}
