//! Continuous mode's children: new bundles first, then the round of
//! non-terminal bundles oldest children first. A bundle whose row the walk
//! saw change waits its turn in the round (its slots and account are no
//! likelier stale than older ones); one that became terminal gets its last
//! fetch there.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tokportal_sync::mirror::{Settings, child_refreshes};
use tokportal_sync::schedule::Scheduler;

use super::support::{mirror, settings, sim, sync};

/// The database's clock now.
async fn clock(pool: &PgPool) -> DateTime<Utc> {
    sqlx::query_scalar("SELECT clock_timestamp()").fetch_one(pool).await.unwrap()
}

/// Ids of the bundles whose slots were fetched since `since`.
async fn fetched_since(pool: &PgPool, since: DateTime<Utc>) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT bundle_id FROM tokportal.child_refreshes WHERE stream = 'bundle_videos' \
         AND refreshed_at >= $1 ORDER BY bundle_id",
    )
    .bind(since)
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn exec(pool: &PgPool, sql: &'static str, id: &str) {
    sqlx::query(sql).bind(id).execute(pool).await.unwrap();
}

#[sqlx::test]
async fn the_round_takes_the_oldest_children_first_a_changed_bundle_waits_its_turn_a_new_one_goes_first(
    pool: PgPool,
) {
    let sim = sim(30).await;
    let m = mirror(&pool, &sim, settings());
    sync(&m, "bundles").await;
    sync(&m, "bundle_videos").await;
    // Five bundles with slots, in a non-terminal status.
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM tokportal.bundles WHERE (data->>'videos_quantity')::int > 0 ORDER BY id LIMIT 5",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(ids.len(), 5, "the simulator has bundles with slots");
    let (oldest, changed, became_terminal, new, back) = (&ids[0], &ids[1], &ids[2], &ids[3], &ids[4]);
    sqlx::query("UPDATE tokportal.bundles SET status = 'accepted' WHERE id = ANY($1)")
        .bind(&ids)
        .execute(&pool)
        .await
        .unwrap();
    // Every bundle's slots fetched 30 minutes ago: the oldest an hour ago, the
    // changed one a minute ago (the walk has since seen its row change), the
    // one that became terminal 45 minutes ago, the new one never; the one back
    // from a terminal status (the walk saw it change) a day ago, by the rotation.
    sqlx::query("UPDATE tokportal.child_refreshes SET refreshed_at = now() - interval '30 minutes'")
        .execute(&pool)
        .await
        .unwrap();
    let at = "UPDATE tokportal.child_refreshes SET refreshed_at = now() - $2::interval \
              WHERE stream = 'bundle_videos' AND bundle_id = $1";
    let ages =
        [(oldest, "60 minutes"), (changed, "1 minute"), (became_terminal, "45 minutes"), (back, "1 day")];
    for (id, ago) in ages {
        sqlx::query(at).bind(id).bind(ago).execute(&pool).await.unwrap();
    }
    for id in [changed, back] {
        exec(&pool, "UPDATE tokportal.bundles SET changed_at = now() WHERE id = $1", id).await;
    }
    exec(
        &pool,
        "UPDATE tokportal.bundles SET status = 'completed', changed_at = now() WHERE id = $1",
        became_terminal,
    )
    .await;
    exec(&pool, "DELETE FROM tokportal.child_refreshes WHERE bundle_id = $1", new).await;
    // The bundles' walk just ended and took an hour: not due again during the test.
    sqlx::query(
        "UPDATE tokportal.sync_runs SET started_at = now(), finished_at = now() + interval '1 hour' \
         WHERE stream = 'bundles'",
    )
    .execute(&pool)
    .await
    .unwrap();

    let standing =
        child_refreshes::standing(&pool, "bundle_videos", true, std::time::Duration::from_secs(86_400))
            .await
            .unwrap();
    assert_eq!(standing.new, 1, "{standing:?}");
    let non_terminal: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tokportal.bundles WHERE (data->>'videos_quantity')::int > 0 \
         AND status NOT IN ('completed', 'cancelled', 'archived') AND id <> $1",
    )
    .bind(new)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        standing.round,
        non_terminal as u64 + 1,
        "the non-terminal bundles and the one that became terminal"
    );

    // One bundle a run.
    let scheduler = Scheduler {
        mirror: mirror(&pool, &sim, Settings { max_requests_per_run: 1, ..settings() }),
        streams: vec!["bundles", "bundle_videos"],
        walk_share: tokportal_sync::config::DEFAULT_WALK_SHARE,
    };
    let cancel = CancellationToken::new();
    let mut order = Vec::new();
    for _ in 0..4 {
        let since = clock(&pool).await;
        scheduler.step_once(&cancel).await.unwrap();
        let fetched = fetched_since(&pool, since).await;
        assert_eq!(fetched.len(), 1, "one bundle a step: {fetched:?}");
        order.push(fetched[0].clone());
    }
    assert_eq!(
        order,
        [new.clone(), back.clone(), oldest.clone(), became_terminal.clone()],
        "the new bundle, then the oldest children (the bundle back from a terminal status), then \
         the next oldest (the round's, then the one that became terminal); the changed bundle, \
         fetched a minute ago, waits"
    );
    sim.shutdown().await;
}
