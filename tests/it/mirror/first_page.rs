//! The first sync of a database asks `GET /me` (to bind the mirror to the
//! key's account) and page 1 of its first stream's walk together, so the
//! walk does not wait one more round trip, and the pages after page 1 as
//! soon as it is answered; nothing is written before the account is checked.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tokportal_sync::mirror::Mirror;
use tokportal_sync::schedule::Scheduler;

use super::support::{live_bundles, settings, sim};

#[sqlx::test]
async fn the_first_sync_asks_for_page_1_then_the_pages_after_it_while_get_me_is_in_flight_and_writes_only_once_the_account_is_bound(
    pool: PgPool,
) {
    let sim = sim(60).await;
    // A proxy that answers `GET /me` only once page 2 was asked for (or 5 s passed),
    // and notes what happened in order, and how many rows the mirror held then.
    let events: Arc<Mutex<Vec<String>>> = Arc::default();
    let (upstream, http, log, db) = (sim.base_url(), reqwest::Client::new(), events.clone(), pool.clone());
    let app = axum::Router::new().route(
        "/{*path}",
        axum::routing::get(move |uri: axum::http::Uri| {
            let (upstream, http, log, db) = (upstream.clone(), http.clone(), log.clone(), db.clone());
            async move {
                let what = format!("{}?{}", uri.path(), uri.query().unwrap_or_default());
                log.lock().unwrap().push(format!("asked {what}"));
                if uri.path() == "/me" {
                    for _ in 0..500 {
                        if log
                            .lock()
                            .unwrap()
                            .iter()
                            .any(|e| e.starts_with("asked /bundles") && e.contains("page=2&"))
                        {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    let (runs,): (i64,) = sqlx::query_as("SELECT count(*) FROM tokportal.sync_runs")
                        .fetch_one(&db)
                        .await
                        .unwrap();
                    log.lock().unwrap().push(format!("runs before /me answered: {runs}"));
                }
                let url = format!("{}{}", upstream.as_str().trim_end_matches('/'), uri);
                let answer =
                    http.get(url).header("x-api-key", tokportal_sync::sim::DEMO_KEY).send().await.unwrap();
                let (code, body) = (answer.status(), answer.text().await.unwrap());
                log.lock().unwrap().push(format!("answered {what}"));
                (code, body)
            }
        }),
    );
    let (options, server) = crate::api_support::scripted(app).await;
    let client = crate::api_support::client(options, crate::api_support::budget_options(10_000.0, 10_000));
    let scheduler = Scheduler {
        mirror: Mirror::new(pool.clone(), client, settings()),
        streams: vec!["bundles"],
        walk_share: tokportal_sync::config::DEFAULT_WALK_SHARE,
    };

    let tick = scheduler.tick_once(&CancellationToken::new()).await.unwrap();
    server.abort();
    assert_eq!(tick.runs.len(), 1, "{tick}");
    let events = events.lock().unwrap().clone();
    let at = |prefix: &str| {
        events.iter().position(|e| e.starts_with(prefix)).unwrap_or_else(|| panic!("{prefix}: {events:?}"))
    };
    assert!(
        at("asked /bundles?page=1&") < at("answered /me"),
        "page 1 was asked for while GET /me was in flight: {events:?}"
    );
    assert!(
        at("answered /bundles?page=1&") < at("asked /bundles?page=2&")
            && at("asked /bundles?page=2&") < at("answered /me"),
        "page 2 was asked for once page 1 told how many pages there are, before GET /me was answered: {events:?}"
    );
    assert!(
        events.contains(&"runs before /me answered: 0".to_string()),
        "nothing written before: {events:?}"
    );
    let asked_page_1 = events.iter().filter(|e| e.starts_with("asked /bundles?page=1&")).count();
    assert_eq!(asked_page_1, 1, "page 1 is read once, by the walk that asked for it: {events:?}");
    assert_eq!(live_bundles(&pool).await.len(), 60, "the walk took page 1 and mirrored every bundle");
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_page_asked_for_ahead_by_a_sync_whose_walk_did_not_run_is_never_used_by_a_later_sync(pool: PgPool) {
    let sim = sim(60).await;
    let m = super::support::mirror(&pool, &sim, settings());
    let scheduler = Scheduler {
        mirror: m,
        streams: vec!["bundles"],
        walk_share: tokportal_sync::config::DEFAULT_WALK_SHARE,
    };
    // Another process walks the bundles: this first sync binds the mirror, asks for page 1
    // beside GET /me, and skips the walk.
    let held =
        tokportal_sync::mirror::lock::try_lock(&pool, "bundles").await.unwrap().expect("the lock is free");
    let first = scheduler.tick_once(&CancellationToken::new()).await.unwrap();
    assert_eq!(first.skipped, vec!["bundles"], "{first}");
    // Let page 1's request be answered if it is still going, then change every bundle.
    for _ in 0..200 {
        if sim.stats().list_requests > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for id in sim.bundle_ids() {
        let set = serde_json::json!({ "title": "changed after the first sync" });
        assert!(sim.change_bundle(&id, set.as_object().unwrap().clone()));
    }
    held.release().await;

    let second = scheduler.tick_once(&CancellationToken::new()).await.unwrap();
    assert_eq!(second.runs.len(), 1, "{second}");
    let rows = live_bundles(&pool).await;
    assert_eq!(rows.len(), 60);
    let stale: Vec<&String> =
        rows.iter().filter(|(_, d)| d["title"] != "changed after the first sync").map(|(id, _)| id).collect();
    assert!(stale.is_empty(), "the later sync read page 1 itself; stale rows: {stale:?}");
    sim.shutdown().await;
}
