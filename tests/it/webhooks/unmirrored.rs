//! An event about a bundle the mirror does not hold yet (created since the
//! last walk) brings the bundle in with what the event is about, in one
//! refresh, instead of failing on the missing row until it is given up.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;
use tokportal_sync::webhooks::{Outcome, refresh_once};

use super::support::{refresher, sim, store};

/// A bundle of `sim` with video slots and an account, other than `not`.
fn full_bundle(sim: &tokportal_sync::sim::SimServer, not: &[String]) -> String {
    sim.bundle_ids()
        .into_iter()
        .find(|id| {
            !not.contains(id)
                && sim.bundle_account(id).is_some()
                && sim.bundle_videos(id).and_then(|v| v.as_array().map(|a| !a.is_empty())) == Some(true)
        })
        .expect("a bundle with slots and an account")
}

async fn bundle_row(pool: &PgPool, id: &str) -> Option<Value> {
    sqlx::query_scalar("SELECT data FROM tokportal.bundles WHERE id = $1 AND deleted_at IS NULL")
        .bind(id)
        .fetch_optional(pool)
        .await
        .unwrap()
}

async fn count(pool: &PgPool, table: &str, id: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM tokportal.{table} WHERE bundle_id = $1 AND deleted_at IS NULL");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(id).fetch_one(pool).await.unwrap()
}

#[sqlx::test]
async fn a_video_or_account_event_for_an_unmirrored_bundle_fetches_and_inserts_the_bundle(pool: PgPool) {
    let sim = sim(20).await;
    let videos = full_bundle(&sim, &[]);
    let account = full_bundle(&sim, std::slice::from_ref(&videos));
    store(&pool, "evt_video", "video.published", json!({ "bundle_id": videos, "position": 1 })).await;
    store(&pool, "evt_account", "account.updated", json!({ "bundle_id": account })).await;
    let r = refresher(&pool, &sim, Duration::ZERO);
    for _ in 0..2 {
        match refresh_once(&r).await.unwrap() {
            Outcome::Refreshed { requests: 2, .. } => {}
            other => panic!("expected the bundle and its child fetched, got {other:?}"),
        }
    }
    assert_eq!(refresh_once(&r).await.unwrap(), Outcome::Idle);
    assert!(bundle_row(&pool, &videos).await.is_some(), "the bundle of the video event is mirrored");
    let slots = sim.bundle_videos(&videos).unwrap().as_array().unwrap().len() as i64;
    assert_eq!(count(&pool, "bundle_videos", &videos).await, slots);
    assert!(bundle_row(&pool, &account).await.is_some(), "the bundle of the account event is mirrored");
    assert_eq!(count(&pool, "bundle_accounts", &account).await, 1);
    let failed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tokportal.webhook_events WHERE refreshed_at IS NULL OR attempts <> 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(failed, 0, "each event refreshed at its first attempt");
}

#[sqlx::test]
async fn a_created_bundle_before_the_next_walk_arrives_whole(pool: PgPool) {
    let sim = sim(20).await;
    let id = full_bundle(&sim, &[]);
    store(&pool, "evt_created", "bundle.created", json!({ "id": id })).await;
    let r = refresher(&pool, &sim, Duration::ZERO);
    assert!(matches!(refresh_once(&r).await.unwrap(), Outcome::Refreshed { requests: 3, .. }));
    assert!(bundle_row(&pool, &id).await.is_some());
    assert!(count(&pool, "bundle_videos", &id).await > 0);
    assert_eq!(count(&pool, "bundle_accounts", &id).await, 1);
}
