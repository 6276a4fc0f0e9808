//! Pages in flight: the walk requests pages ahead as the budget allows and
//! writes them in order, whatever the order their answers arrive in; a page
//! that fails while pages after it are in flight ends the run at the last
//! committed page, and the next run resumes there.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use tokportal_sync::mirror::{Mirror, Status};
use tokportal_sync::sim::SimServer;

use super::support::{checkpoints, live_bundles, settings, sim, sync};

/// What the proxy does with a page: hold its answer this long, and answer
/// this status instead of the simulator's (`None`: the simulator's answer).
type Plan = Arc<dyn Fn(u32) -> (Duration, Option<u16>) + Send + Sync>;

/// The pages of `GET /bundles` the proxy was asked for, and those it
/// answered, each in the order it happened.
#[derive(Default)]
struct Seen {
    asked: Vec<u32>,
    answered: Vec<u32>,
    /// Requests other than list pages being answered now, and the most at once.
    now: usize,
    most: usize,
}

/// A mirror reading through a proxy in front of the simulator that follows
/// `plan` for each page of `GET /bundles` (25 bundles a page), and `plan(0)`
/// for every other request.
async fn proxy(
    pool: &PgPool,
    sim: &SimServer,
    plan: Arc<Mutex<Plan>>,
    seen: Arc<Mutex<Seen>>,
) -> (Mirror, tokio::task::JoinHandle<std::io::Result<()>>) {
    let upstream = sim.base_url();
    let http = reqwest::Client::new();
    let app = axum::Router::new().route(
        "/{*path}",
        axum::routing::get(move |uri: axum::http::Uri| {
            let (upstream, http, plan, seen) = (upstream.clone(), http.clone(), plan.clone(), seen.clone());
            async move {
                let page = uri
                    .query()
                    .unwrap_or_default()
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("page="))
                    .and_then(|p| p.parse::<u32>().ok())
                    .filter(|_| uri.path().ends_with("/bundles"));
                let (hold, status) = (plan.lock().unwrap())(page.unwrap_or(0));
                {
                    let mut seen = seen.lock().unwrap();
                    seen.asked.extend(page);
                    if page.is_none() {
                        seen.now += 1;
                        seen.most = seen.most.max(seen.now);
                    }
                }
                let url = format!("{}{}", upstream.as_str().trim_end_matches('/'), uri);
                let answer =
                    http.get(url).header("x-api-key", tokportal_sync::sim::DEMO_KEY).send().await.unwrap();
                let code = answer.status();
                let body = answer.text().await.unwrap();
                tokio::time::sleep(hold).await;
                {
                    let mut seen = seen.lock().unwrap();
                    seen.answered.extend(page);
                    if page.is_none() {
                        seen.now -= 1;
                    }
                }
                match status {
                    Some(s) => (
                        axum::http::StatusCode::from_u16(s).unwrap(),
                        r#"{"error":{"code":"INTERNAL_ERROR","message":"scripted"}}"#.to_string(),
                    ),
                    None => (code, body),
                }
            }
        }),
    );
    let (mut options, server) = crate::api_support::scripted(app).await;
    options.max_retries = 0;
    let client = crate::api_support::client(options, crate::api_support::budget_options(10_000.0, 10_000));
    (Mirror::new(pool.clone(), client, settings()), server)
}

#[sqlx::test]
async fn pages_answered_in_reverse_order_are_written_in_order_and_the_mirror_equals_the_account(
    pool: PgPool,
) {
    // 12 pages; once page 1 said how many, the later a page the sooner its answer.
    let sim = sim(300).await;
    let plan: Plan = Arc::new(|page| (Duration::from_millis(u64::from(13 - page.min(13)) * 40), None));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (m, server) = proxy(&pool, &sim, Arc::new(Mutex::new(plan)), seen.clone()).await;

    let run = sync(&m, "bundles").await;
    assert_eq!(run.status, Status::Succeeded, "{:?}", run.error);
    assert!(run.complete);
    assert_eq!((run.tally.pages, run.tally.rereads, run.tally.items), (12, 0, 300));
    let answered = seen.lock().unwrap().answered.clone();
    assert!(
        answered.windows(2).any(|w| w[0] > w[1]),
        "pages were in flight together and answered out of order: {answered:?}"
    );
    assert_eq!(checkpoints(&pool).await, vec![("full".into(), "succeeded".into(), None, 12)]);
    let mut upstream = sim.bundle_ids();
    upstream.sort();
    let mirrored: Vec<String> = live_bundles(&pool).await.into_keys().collect();
    assert_eq!(mirrored, upstream, "every bundle is mirrored");
    server.abort();
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_page_failing_while_later_pages_are_in_flight_commits_nothing_after_the_last_page_written_and_the_next_run_resumes_there(
    pool: PgPool,
) {
    // Page 5 fails late, after every page behind it was answered.
    let sim = sim(300).await;
    let failing: Plan = Arc::new(|page| match page {
        5 => (Duration::from_millis(300), Some(500)),
        _ => (Duration::ZERO, None),
    });
    let plan = Arc::new(Mutex::new(failing));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (m, server) = proxy(&pool, &sim, plan.clone(), seen.clone()).await;

    let run = sync(&m, "bundles").await;
    assert_eq!(run.status, Status::Failed);
    assert!(format!("{:#}", run.error.unwrap()).contains("page=5"), "the error names the page");
    let after: Vec<u32> = seen.lock().unwrap().answered.iter().copied().filter(|&p| p > 5).collect();
    assert!(!after.is_empty(), "pages after the failing one were in flight and answered");
    assert_eq!(checkpoints(&pool).await, vec![("full".into(), "failed".into(), None, 4)]);
    assert_eq!(live_bundles(&pool).await.len(), 4 * 25, "only the pages before the failure are committed");

    *plan.lock().unwrap() = Arc::new(|_| (Duration::ZERO, None));
    let resumed = sync(&m, "bundles").await;
    assert_eq!(resumed.status, Status::Succeeded, "{:?}", resumed.error);
    assert_eq!(resumed.resumed_from_page, Some(4));
    assert_eq!(resumed.tally.pages, 12 - 4 + 1, "the resumed run reads from the checkpoint on");
    let runs = checkpoints(&pool).await;
    assert_eq!(runs[1], ("resumed".into(), "succeeded".into(), Some(4), 12));
    assert_eq!(live_bundles(&pool).await.len(), 300);
    server.abort();
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_children_run_keeps_several_bundles_requests_in_flight_and_stores_every_answer(pool: PgPool) {
    let sim = sim(60).await;
    let plan: Plan = Arc::new(|page| match page {
        0 => (Duration::from_millis(50), None),
        _ => (Duration::ZERO, None),
    });
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (m, server) = proxy(&pool, &sim, Arc::new(Mutex::new(plan)), seen.clone()).await;
    assert_eq!(sync(&m, "bundles").await.status, Status::Succeeded);
    seen.lock().unwrap().most = 0;

    let run = sync(&m, "bundle_videos").await;
    assert_eq!(run.status, Status::Succeeded, "{:?}", run.error);
    let most = seen.lock().unwrap().most;
    assert!(most > 1, "bundles' requests were in flight together (at most {most} at once)");
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tokportal.child_refreshes WHERE stream = 'bundle_videos'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(run.tally.pages > 1);
    assert_eq!(stored as u64, run.tally.pages, "every bundle's answer was stored");
    server.abort();
    sim.shutdown().await;
}

#[sqlx::test]
async fn delete_checks_are_in_flight_together_and_each_gone_bundle_is_confirmed(pool: PgPool) {
    let sim = sim(80).await;
    let plan: Plan = Arc::new(|page| match page {
        0 => (Duration::from_millis(50), None),
        _ => (Duration::ZERO, None),
    });
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (m, server) = proxy(&pool, &sim, Arc::new(Mutex::new(plan)), seen.clone()).await;
    assert_eq!(sync(&m, "bundles").await.status, Status::Succeeded);
    let mut gone = sim.delete_bundles(&sim.bundle_ids()[10..16]);
    gone.sort();
    seen.lock().unwrap().most = 0;

    let run = sync(&m, "bundles").await;
    assert_eq!(run.status, Status::Succeeded, "{:?}", run.error);
    assert_eq!((run.tally.deleted, run.tally.delete_checks), (6, 6));
    let most = seen.lock().unwrap().most;
    assert!(most > 1, "the checks were in flight together (at most {most} at once)");
    let deleted: Vec<String> =
        sqlx::query_scalar("SELECT id FROM tokportal.bundles WHERE deleted_at IS NOT NULL ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(deleted, gone);
    server.abort();
    sim.shutdown().await;
}
