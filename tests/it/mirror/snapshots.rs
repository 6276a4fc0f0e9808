//! The snapshot streams: the credit balance, a row each time it changed;
//! each account's analytics, one row per account and day, in rotation.

use serde_json::Value;
use sqlx::PgPool;
use tokportal_sync::api::{IdempotencyKey, MutationMethod};
use tokportal_sync::mirror::Status;

use super::support::{mirror, settings, sim, sync};
use crate::api_support::demo_client;

const CREATE: &str = r#"{"bundle_type":"account_only","platform":"tiktok","country":"US"}"#;

/// The balance snapshots, oldest first: (balance, data).
async fn balances(pool: &PgPool) -> Vec<(Option<f64>, Value)> {
    sqlx::query_as("SELECT balance::float8, data FROM tokportal.credit_balance_snapshots ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn the_balance_is_kept_as_a_new_row_only_when_it_changed(pool: PgPool) {
    let sim = sim(3).await;
    let m = mirror(&pool, &sim, settings());
    let client = demo_client(&sim, 10_000.0, 10_000);
    let now = || async { client.get("/credits/balance", &[]).await.unwrap().body["data"].clone() };

    let run = sync(&m, "credit_balance").await;
    assert_eq!(
        (run.status, run.kind, run.tally.inserted, run.tally.requests),
        (Status::Succeeded, "snapshot", 1, 1)
    );
    let first = now().await;
    assert_eq!(balances(&pool).await, vec![(first["balance"].as_f64(), first.clone())]);

    let unchanged = sync(&m, "credit_balance").await;
    assert_eq!((unchanged.tally.inserted, unchanged.tally.unchanged), (0, 1), "{unchanged}");
    assert_eq!(balances(&pool).await.len(), 1, "an unchanged balance adds no row");

    // Creating a bundle costs credits.
    let key = IdempotencyKey::new("spend-1").unwrap();
    client.mutate(MutationMethod::Post, "/bundles", &key, Some(CREATE)).await.unwrap();
    let spent = now().await;
    assert_ne!(spent, first);
    let changed = sync(&m, "credit_balance").await;
    assert_eq!(changed.tally.inserted, 1, "{changed}");
    let rows = balances(&pool).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1], (spent["balance"].as_f64(), spent));
    sim.shutdown().await;
}

/// A simulator of `accounts` delivered accounts, without rate limiting.
async fn sim_of_accounts(accounts: usize) -> tokportal_sync::sim::SimServer {
    let config = tokportal_sync::sim::SimConfig {
        bundles: 5,
        accounts: Some(accounts),
        rate_limit: false,
        ..Default::default()
    };
    tokportal_sync::sim::start(config).await.expect("the simulator starts")
}

/// The analytics snapshots: (account, day, followers, data, changed_at).
type Row = (String, chrono::NaiveDate, Option<i64>, Value, chrono::DateTime<chrono::Utc>);

async fn snapshots(pool: &PgPool) -> Vec<Row> {
    sqlx::query_as(
        "SELECT account_id, day, followers, data, changed_at FROM tokportal.account_analytics_snapshots \
         ORDER BY account_id, day",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Asserts the latest snapshot of every account of `sim` is what it serves today.
async fn assert_today(pool: &PgPool, sim: &tokportal_sync::sim::SimServer) {
    let rows = snapshots(pool).await;
    for id in sim.saved_accounts().keys() {
        let served = sim.analytics(id).expect("an account of the simulator");
        let day = chrono::NaiveDate::parse_from_str(served["date"].as_str().unwrap(), "%Y-%m-%d").unwrap();
        let row =
            rows.iter().find(|r| &r.0 == id && r.1 == day).unwrap_or_else(|| panic!("no row of {id} {day}"));
        assert_eq!(row.3, served, "account {id}");
        assert_eq!(row.2, served["followers"].as_i64(), "the typed column of {id}");
    }
}

#[sqlx::test]
async fn every_accounts_analytics_of_the_day_is_one_row_and_an_unchanged_day_writes_nothing(pool: PgPool) {
    let sim = sim_of_accounts(6).await;
    let m = mirror(&pool, &sim, settings());
    assert!(sync(&m, "accounts").await.status.succeeded());
    let run = sync(&m, "account_analytics").await;
    assert_eq!(
        (run.status, run.kind, run.tally.inserted, run.tally.requests),
        (Status::Succeeded, "parents", 6, 6)
    );
    assert_eq!(snapshots(&pool).await.len(), 6);
    assert_today(&pool, &sim).await;

    let before = snapshots(&pool).await;
    let again = sync(&m, "account_analytics").await;
    assert_eq!((again.tally.inserted, again.tally.updated, again.tally.unchanged), (0, 0, 6), "{again}");
    assert_eq!(snapshots(&pool).await, before, "no row rewritten");
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_new_day_adds_one_row_per_account_and_leaves_the_days_before_untouched(pool: PgPool) {
    let sim = sim_of_accounts(4).await;
    let m = mirror(&pool, &sim, settings());
    sync(&m, "accounts").await;
    sync(&m, "account_analytics").await;
    let first = snapshots(&pool).await;

    sim.advance_day(1);
    let run = sync(&m, "account_analytics").await;
    assert_eq!((run.tally.inserted, run.tally.updated), (4, 0), "{run}");
    let rows = snapshots(&pool).await;
    assert_eq!(rows.len(), 8, "two days of four accounts");
    for row in &first {
        assert!(rows.contains(row), "yesterday's row {} {} is unchanged", row.0, row.1);
    }
    assert_today(&pool, &sim).await;
    let days: std::collections::BTreeSet<_> = rows.iter().map(|r| r.1).collect();
    assert_eq!(days.len(), 2);
    sim.shutdown().await;
}

#[sqlx::test]
async fn accounts_rotate_within_the_runs_requests_until_every_one_is_fetched(pool: PgPool) {
    let sim = sim_of_accounts(7).await;
    let mut m = mirror(&pool, &sim, settings());
    sync(&m, "accounts").await;
    m.settings.max_requests_per_run = 3;
    let mut fetched = std::collections::BTreeSet::new();
    for (run_number, expected) in [(1, 3), (2, 6), (3, 7)] {
        let run = sync(&m, "account_analytics").await;
        assert_eq!(run.status, Status::Succeeded, "{run}");
        assert!(run.tally.requests <= 3, "run {run_number}: {run}");
        fetched = snapshots(&pool).await.into_iter().map(|r| r.0).collect();
        assert_eq!(fetched.len(), expected, "run {run_number}: {run}");
    }
    assert_eq!(fetched, sim.saved_accounts().keys().cloned().collect());
    assert_today(&pool, &sim).await;
    // The next run starts over with the accounts fetched longest ago: the first run's.
    let first_three: Vec<String> = sqlx::query_scalar(
        "SELECT parent_id FROM tokportal.parent_fetches WHERE stream = 'account_analytics' \
         ORDER BY fetched_at, parent_id LIMIT 3",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    sync(&m, "account_analytics").await;
    let last_three: Vec<String> = sqlx::query_scalar(
        "SELECT parent_id FROM tokportal.parent_fetches WHERE stream = 'account_analytics' \
         ORDER BY fetched_at DESC, parent_id LIMIT 3",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let (mut a, mut b) = (first_three, last_three);
    a.sort();
    b.sort();
    assert_eq!(a, b);
    sim.shutdown().await;
}

#[sqlx::test]
async fn an_account_gone_upstream_is_marked_deleted_through_the_accounts_delete_rule(pool: PgPool) {
    let sim = sim_of_accounts(6).await;
    let m = mirror(&pool, &sim, settings());
    sync(&m, "accounts").await;
    let gone = sim.saved_accounts().keys().next().unwrap().clone();
    assert_eq!(sim.delete_saved_accounts(std::slice::from_ref(&gone)), vec![gone.clone()]);
    let run = sync(&m, "account_analytics").await;
    assert_eq!(run.status, Status::Succeeded, "a gone account is no problem: {run}");
    assert_eq!((run.tally.inserted, run.tally.deleted), (5, 1), "{run}");
    let deleted: bool =
        sqlx::query_scalar("SELECT deleted_at IS NOT NULL FROM tokportal.accounts WHERE id = $1")
            .bind(&gone)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(deleted, "ACCOUNT_NOT_FOUND is the proof GET /accounts/{{id}} gives");
    let again = sync(&m, "account_analytics").await;
    assert_eq!(again.tally.requests, 5, "a deleted account is not asked for again: {again}");
    sim.shutdown().await;
}

#[sqlx::test]
async fn an_account_whose_analytics_fail_is_set_aside_and_the_others_are_stored(pool: PgPool) {
    use super::support::{Proxy, proxy, unchanged};
    let sim = sim_of_accounts(5).await;
    let script = std::sync::Arc::new(std::sync::Mutex::new(Proxy::default()));
    let (m, _server) = proxy(&pool, &sim, script.clone(), unchanged).await;
    sync(&m, "accounts").await;
    let ids: Vec<String> = sim.saved_accounts().keys().cloned().collect();
    let answers = [
        (503, r#"{"error":{"code":"UNAVAILABLE"}}"#),
        (403, r#"{"error":{"code":"FORBIDDEN"}}"#),
        (200, "[1]"),
    ];
    for (id, (status, body)) in ids.iter().zip(answers) {
        script.lock().unwrap().answers.insert(format!("/accounts/{id}/analytics"), (status, body.into()));
    }
    let run = sync(&m, "account_analytics").await;
    assert_eq!(run.status, Status::SucceededWithProblems, "{run}");
    assert_eq!((run.tally.problems, run.tally.inserted), (3, 2), "{run}");
    let problems: Vec<(String, String)> = sqlx::query_as(
        "SELECT subject, code FROM tokportal.sync_problems WHERE stream = 'account_analytics' ORDER BY subject",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut expected = vec![
        (ids[0].clone(), "HTTP 503".to_string()),
        (ids[1].clone(), "FORBIDDEN".into()),
        (ids[2].clone(), "BAD_BODY".into()),
    ];
    expected.sort();
    assert_eq!(problems, expected);
    let stored: Vec<String> = snapshots(&pool).await.into_iter().map(|r| r.0).collect();
    assert_eq!(stored, ids[3..].to_vec());

    // Set aside, they wait out their backoff: the next run asks only for the others.
    let next = sync(&m, "account_analytics").await;
    assert_eq!(next.tally.requests, 2, "{next}");
    sim.shutdown().await;
}

#[sqlx::test]
async fn in_continuous_mode_the_snapshot_and_per_parent_streams_take_their_turn_by_the_age_of_their_last_run(
    pool: PgPool,
) {
    use tokportal_sync::mirror::staleness;
    use tokportal_sync::schedule::pick::{Pick, pick};
    let sim = sim_of_accounts(3).await;
    let m = mirror(&pool, &sim, settings());
    let configured = ["accounts", "account_analytics", "credit_balance"];
    let day = std::time::Duration::from_secs(86_400);
    let before = staleness::now(&pool, &configured, day).await.unwrap();
    assert_eq!(before.lists.iter().map(|(s, _)| *s).collect::<Vec<_>>(), configured, "each is walked");
    assert!(before.lists.iter().all(|(_, last)| last.is_none()), "never run");
    for stream in configured {
        sync(&m, stream).await;
    }
    let after = staleness::now(&pool, &configured, day).await.unwrap();
    assert!(after.lists.iter().all(|(_, last)| last.is_some()), "{after:?}");
    // None due yet (an hour's gap): the one run longest ago goes first, the accounts' walk.
    assert_eq!(pick(&after, 3600.0, 0.5), Some(Pick::Walk("accounts")));
    sim.shutdown().await;
}
