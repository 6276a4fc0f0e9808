//! Poison never stops a stream: a list item without a usable id, a bundle
//! whose children fail and an id that is not one safe path segment are set
//! aside in `sync_problems` while the rest is mirrored; a storm of 5xx still
//! stops the run.

use serde_json::{Value, json};
use sqlx::PgPool;
use tokportal_sync::mirror::Status;

use super::support::{
    Script, assert_mirror_equals, live_bundles, proxy, settings, sim, sync, sync_all, unchanged,
};

async fn problems(pool: &PgPool) -> Vec<(String, String, String)> {
    sqlx::query_as("SELECT stream, subject, code FROM tokportal.sync_problems ORDER BY stream, subject")
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn stored_status(pool: &PgPool, run_id: i64) -> (String, i32) {
    sqlx::query_as("SELECT status, problems FROM tokportal.sync_runs WHERE id = $1")
        .bind(run_id)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn list_items_without_a_usable_id_are_set_aside_and_the_walk_goes_on_every_run(pool: PgPool) {
    let sim = sim(60).await;
    // Page 2 always serves item 1 without an id and item 2 with an id no URL may hold.
    fn poison(path: &str, query: &str, mut body: Value) -> Value {
        if path == "/bundles" && query.split('&').any(|p| p == "page=2") {
            body["data"][1].as_object_mut().unwrap().remove("id");
            body["data"][2]["id"] = json!("../credits/balance");
        }
        body
    }
    let (m, server) = proxy(&pool, &sim, Script::default(), poison).await;
    for round in 0..2 {
        let run = sync(&m, "bundles").await;
        assert_eq!(run.status, Status::SucceededWithProblems, "round {round}: {:?}", run.error);
        assert_eq!((run.complete, run.tally.problems), (true, 2), "round {round}");
        assert_eq!(stored_status(&pool, run.run_id).await, ("succeeded_with_problems".into(), 2));
        assert_eq!(live_bundles(&pool).await.len(), 58, "round {round}: the rest of the stream is mirrored");
    }
    let codes: Vec<String> = problems(&pool).await.into_iter().map(|(_, _, code)| code).collect();
    assert_eq!(codes, ["NO_ID", "UNSAFE_ID"]);
    let attempts: Vec<i32> =
        sqlx::query_scalar("SELECT attempts FROM tokportal.sync_problems").fetch_all(&pool).await.unwrap();
    assert_eq!(attempts, [2, 2], "seen by both walks");
    server.abort();
    sim.shutdown().await;
}

#[sqlx::test]
async fn bundles_whose_children_fail_are_set_aside_and_every_other_bundle_is_refreshed(pool: PgPool) {
    let sim = sim(20).await;
    let script = Script::default();
    let (mut m, server) = proxy(&pool, &sim, script.clone(), unchanged).await;
    // No rotating slice: a run fetches only what is due for a reason.
    m.settings.run_period = std::time::Duration::ZERO;
    sync(&m, "bundles").await;
    let with_videos: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM tokportal.bundles WHERE NOT (data->>'videos_quantity' = '0') ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let [a, b, c, d] = [0, 1, 2, 3].map(|i| with_videos[i].clone());
    {
        let s = &mut script.lock().unwrap().answers;
        let not_owned = r#"{"error":{"code":"BUNDLE_NOT_OWNED","message":"not yours"}}"#;
        s.insert(format!("/bundles/{a}/videos"), (403, not_owned.into()));
        s.insert(format!("/bundles/{b}/videos"), (500, r#"{"error":{"code":"INTERNAL"}}"#.into()));
        s.insert(format!("/bundles/{c}/videos"), (200, r#"{"data":{"not":"a list"}}"#.into()));
    }
    assert!(sim.set_videos(&d, vec![json!({"status": "pending"})]), "a slot without position");
    let run = sync(&m, "bundle_videos").await;
    assert_eq!(run.status, Status::SucceededWithProblems, "{:?}", run.error);
    assert_eq!(run.tally.problems, 4);
    let mut found = problems(&pool).await;
    found.sort_by(|x, y| x.1.cmp(&y.1));
    let mut wanted = vec![
        ("bundle_videos".to_string(), a.clone(), "BUNDLE_NOT_OWNED".to_string()),
        ("bundle_videos".into(), b.clone(), "HTTP 500".into()),
        ("bundle_videos".into(), c.clone(), "BAD_BODY".into()),
        ("bundle_videos".into(), d.clone(), "BAD_BODY".into()),
    ];
    wanted.sort_by(|x, y| x.1.cmp(&y.1));
    assert_eq!(found, wanted);
    let refreshed: Vec<String> = sqlx::query_scalar(
        "SELECT bundle_id FROM tokportal.child_refreshes WHERE stream = 'bundle_videos' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(refreshed.len(), with_videos.len() - 4, "every other bundle's slots were stored");
    // Next run: the four wait for their backoff; nothing else is due.
    let next = sync(&m, "bundle_videos").await;
    let plan: Value = sqlx::query_scalar("SELECT plan FROM tokportal.sync_runs WHERE id = $1")
        .bind(next.run_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((next.status, next.tally.pages), (Status::Succeeded, 0), "{plan} {:?}", next.note);
    assert!(next.note.is_some_and(|n| n.contains("4 bundles set aside wait")));
    // Once healed and due again, they are fetched first and leave the table.
    script.lock().unwrap().answers.clear();
    sim.set_videos(&d, Vec::new());
    sqlx::query("UPDATE tokportal.sync_problems SET next_attempt_at = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();
    let healed = sync(&m, "bundle_videos").await;
    assert_eq!((healed.status, healed.tally.problems), (Status::Succeeded, 0), "{:?}", healed.error);
    assert!(problems(&pool).await.is_empty());
    sync_all(&m).await;
    assert_mirror_equals(&pool, &sim).await;
    server.abort();
    sim.shutdown().await;
}

#[sqlx::test]
async fn an_unsafe_id_held_by_the_mirror_is_never_requested_by_children_or_delete_checks(pool: PgPool) {
    let sim = sim(10).await;
    let script = Script::default();
    let (m, server) = proxy(&pool, &sim, script.clone(), unchanged).await;
    sync(&m, "bundles").await;
    sqlx::query(
        "INSERT INTO tokportal.bundles (id, data, first_seen_at) \
         VALUES ('a?b', '{\"id\":\"a?b\",\"videos_quantity\":1}', now() - interval '1 hour')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let walk = sync(&m, "bundles").await;
    assert_eq!((walk.status, walk.tally.deleted), (Status::SucceededWithProblems, 0), "{:?}", walk.note);
    let children = sync(&m, "bundle_videos").await;
    assert_eq!(children.status, Status::SucceededWithProblems, "{:?}", children.error);
    let codes: Vec<(String, String, String)> = problems(&pool).await;
    assert_eq!(
        codes,
        [
            ("bundle_videos".into(), "a?b".into(), "UNSAFE_ID".into()),
            ("bundles".into(), "a?b".into(), "UNSAFE_ID".into())
        ]
    );
    assert!(live_bundles(&pool).await.contains_key("a?b"), "not requested, so not proved gone");
    let asked = script.lock().unwrap().asked.clone();
    let about_it =
        |uri: &&String| ["/bundles/a?", "/bundles/a%3F", "/bundles/a%3f"].iter().any(|p| uri.starts_with(p));
    assert!(asked.iter().filter(about_it).count() == 0, "{asked:?}");
    server.abort();
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_storm_of_5xx_across_bundles_still_stops_the_children_run(pool: PgPool) {
    let sim = sim(20).await;
    let script = Script::default();
    let (m, server) = proxy(&pool, &sim, script.clone(), unchanged).await;
    sync(&m, "bundles").await;
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM tokportal.bundles").fetch_all(&pool).await.unwrap();
    for id in ids {
        script.lock().unwrap().answers.insert(format!("/bundles/{id}/account"), (503, "{}".into()));
    }
    let run = sync(&m, "bundle_accounts").await;
    assert_eq!(run.status, Status::Failed);
    assert!(format!("{:?}", run.error).contains("in a row"), "{:?}", run.error);
    assert_eq!(run.tally.pages, 5, "stopped at the fifth");
    server.abort();
    sim.shutdown().await;
}

#[sqlx::test]
async fn bundles_waiting_out_their_backoff_take_no_request_of_the_runs_cap(pool: PgPool) {
    let sim = sim(20).await;
    let mut m = super::support::mirror(&pool, &sim, settings());
    m.settings.run_period = std::time::Duration::ZERO;
    m.settings.max_requests_per_run = 3;
    sync(&m, "bundles").await;
    // The three bundles the planner would take first, set aside and waiting.
    let first: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM tokportal.bundles WHERE NOT (data->>'videos_quantity' = '0') \
         ORDER BY changed_at, id LIMIT 3",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for id in &first {
        sqlx::query(
            "INSERT INTO tokportal.sync_problems (stream, subject, code, excerpt, next_attempt_at)
             VALUES ('bundle_videos', $1, 'HTTP 500', '', now() + interval '1 hour')",
        )
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    }
    let run = sync(&m, "bundle_videos").await;
    assert_eq!(run.status, Status::Succeeded, "{:?}", run.error);
    let fetched: Vec<String> =
        sqlx::query_scalar("SELECT bundle_id FROM tokportal.child_refreshes WHERE stream = 'bundle_videos'")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(fetched.len(), 3, "the cap's three requests went to bundles that can be fetched: {fetched:?}");
    assert!(fetched.iter().all(|id| !first.contains(id)), "{fetched:?} {first:?}");
    assert!(run.note.is_some_and(|n| n.contains("3 bundles set aside wait")));
    sim.shutdown().await;
}
