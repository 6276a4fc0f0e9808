//! Continuous mode's children: new bundles first, then the round of
//! non-terminal bundles, children stale longest first. A bundle whose row the
//! walk saw change waits its turn in the round (its slots and account are no
//! likelier stale than older ones); one that became terminal gets its last
//! fetch there; one fetched while terminal counts as stale only from its
//! return.

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
async fn the_round_takes_the_longest_stale_children_first_a_changed_bundle_waits_its_turn_a_new_one_goes_first(
    pool: PgPool,
) {
    let sim = sim(30).await;
    let m = mirror(&pool, &sim, settings());
    sync(&m, "bundles").await;
    sync(&m, "bundle_videos").await;
    // Six bundles with slots, in a non-terminal status.
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM tokportal.bundles WHERE (data->>'videos_quantity')::int > 0 ORDER BY id LIMIT 6",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(ids.len(), 6, "the simulator has bundles with slots");
    let (oldest, changed, became_terminal, new, back, still_terminal) =
        (&ids[0], &ids[1], &ids[2], &ids[3], &ids[4], &ids[5]);
    sqlx::query("UPDATE tokportal.bundles SET status = 'accepted' WHERE id = ANY($1)")
        .bind(&ids)
        .execute(&pool)
        .await
        .unwrap();
    // Every bundle's slots fetched 30 minutes ago: the oldest an hour ago, the
    // changed one a minute ago (the walk has since seen its row change), the
    // one that became terminal 45 minutes ago, the new one never. Two were
    // fetched while completed: the one back from it a day ago (the walk saw
    // it change 50 minutes ago), the one terminal again two hours ago (the
    // walk just saw it archived: it may have been non-terminal in between).
    sqlx::query("UPDATE tokportal.child_refreshes SET refreshed_at = now() - interval '30 minutes'")
        .execute(&pool)
        .await
        .unwrap();
    let at = "UPDATE tokportal.child_refreshes SET refreshed_at = now() - $2::interval \
              WHERE stream = 'bundle_videos' AND bundle_id = $1";
    let ages = [
        (oldest, "60 minutes"),
        (changed, "1 minute"),
        (became_terminal, "45 minutes"),
        (back, "1 day"),
        (still_terminal, "2 hours"),
    ];
    for (id, ago) in ages {
        sqlx::query(at).bind(id).bind(ago).execute(&pool).await.unwrap();
    }
    for id in [back, still_terminal] {
        exec(
            &pool,
            "UPDATE tokportal.child_refreshes SET bundle_status = 'completed', bundle_changed_at = refreshed_at \
             WHERE bundle_id = $1",
            id,
        )
        .await;
    }
    exec(&pool, "UPDATE tokportal.bundles SET changed_at = now() WHERE id = $1", changed).await;
    exec(
        &pool,
        "UPDATE tokportal.bundles SET changed_at = now() - interval '50 minutes' WHERE id = $1",
        back,
    )
    .await;
    exec(
        &pool,
        "UPDATE tokportal.bundles SET status = 'completed', changed_at = now() WHERE id = $1",
        became_terminal,
    )
    .await;
    exec(
        &pool,
        "UPDATE tokportal.bundles SET status = 'archived', changed_at = now() WHERE id = $1",
        still_terminal,
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

    let day = std::time::Duration::from_secs(86_400);
    let standing = child_refreshes::standing(&pool, "bundle_videos", true, day).await.unwrap();
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
        non_terminal as u64 + 2,
        "the non-terminal bundles, the one that became terminal and the one archived after a fetch while \
         completed: {standing:?}"
    );
    // The staleness counts the bundle back from a terminal status from its
    // return (50 minutes), not from its fetch a day ago: the oldest is an hour.
    for (what, age) in [("oldest", standing.oldest_active_secs), ("round", standing.round_oldest_secs)] {
        let age = age.unwrap();
        assert!((3_600.0..3_900.0).contains(&age), "{what}: {age} s, {standing:?}");
    }
    // On the cron schedule all three go first, as changed.
    let (changed_ids, _) = child_refreshes::changed(&pool, "bundle_videos", true, 100).await.unwrap();
    for id in [changed, back, still_terminal] {
        assert!(changed_ids.contains(id), "{id}: {changed_ids:?}");
    }

    // One bundle a run.
    let scheduler = Scheduler {
        mirror: mirror(&pool, &sim, Settings { max_requests_per_run: 1, ..settings() }),
        streams: vec!["bundles", "bundle_videos"],
        walk_share: tokportal_sync::config::DEFAULT_WALK_SHARE,
    };
    let cancel = CancellationToken::new();
    let mut order = Vec::new();
    for step in 0..4 {
        if step == 1 {
            // The first step noted the return; the row changing again does
            // not push the bundle back.
            exec(&pool, "UPDATE tokportal.bundles SET changed_at = now() WHERE id = $1", back).await;
        }
        let since = clock(&pool).await;
        scheduler.step_once(&cancel).await.unwrap();
        let fetched = fetched_since(&pool, since).await;
        assert_eq!(fetched.len(), 1, "one bundle a step: {fetched:?}");
        order.push(fetched[0].clone());
    }
    assert_eq!(
        order,
        [new.clone(), oldest.clone(), back.clone(), became_terminal.clone()],
        "the new bundle, then the children stale longest (an hour; 50 minutes for the one back from a \
         terminal status; 45 for the one that became terminal); the changed bundle, fetched a minute \
         ago, and the one archived just now wait"
    );
    // The last fetch recorded the status it saw: the bundle that became
    // terminal has left the round.
    let status: Option<String> = sqlx::query_scalar(
        "SELECT bundle_status FROM tokportal.child_refreshes WHERE stream = 'bundle_videos' AND bundle_id = $1",
    )
    .bind(became_terminal)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(status.as_deref(), Some("completed"));
    let round = child_refreshes::round(&pool, "bundle_videos", true, 1_000).await.unwrap();
    assert!(round.contains(new) && !round.contains(became_terminal), "{round:?}");
    assert_eq!(
        round[round.len() - 4],
        *still_terminal,
        "stale since the walk saw it change, at the start: after the bundles fetched before, before \
         the three fetched since and still in the round: {round:?}"
    );
    sim.shutdown().await;
}
