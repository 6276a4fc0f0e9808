//! One database mirrors one account: the first sync binds it to the key's
//! account (`GET /me`), a key of another account is refused (exit 2) with
//! nothing written, keys of one account share the mirror, and
//! `worker mirror rebind --yes` is the way out.

use std::path::PathBuf;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tokportal_sync::api::ApiError;
use tokportal_sync::mirror::account;
use tokportal_sync::sim::{self, DEMO_KEY, SimConfig, SimKey, SimServer};
use tokportal_sync::webhooks::refresh;

use super::support::{live_bundles, mirror, settings};
use crate::helpers::{database_url, text, worker};

const OTHER: &str = "sk_other_account_key_0000000000000000000000000000000000000000000000002";
const SAME: &str = "sk_same_account_key_00000000000000000000000000000000000000000000000003";

/// A simulator whose DEMO_KEY and SAME share one account and OTHER has its own.
async fn two_accounts() -> SimServer {
    let demo = SimKey::full(DEMO_KEY, 10_000);
    let shared = demo.account_id();
    let keys = vec![demo, SimKey::full(OTHER, 10_000), SimKey::full(SAME, 10_000).in_account(&shared)];
    sim::start(SimConfig { bundles: 30, rate_limit: false, keys, ..SimConfig::default() }).await.unwrap()
}

async fn run(
    dir: PathBuf,
    args: Vec<&'static str>,
    url: String,
    base: String,
    key: &'static str,
) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let env = [
            ("DATABASE_URL", url.as_str()),
            ("TOKPORTAL_API_KEY", key),
            ("TOKPORTAL__API__BASE_URL", base.as_str()),
            ("TOKPORTAL__API__RATE_PER_SECOND", "1000"),
            ("TOKPORTAL__API__BURST", "1000"),
        ];
        worker(&dir, &args, &env)
    })
    .await
    .unwrap()
}

/// The table of every list stream.
fn list_tables() -> Vec<&'static str> {
    use tokportal_sync::mirror::streams::{ALL, Stream};
    ALL.iter()
        .filter_map(|e| match e.stream {
            Stream::List(s) => Some(s.table),
            _ => None,
        })
        .collect()
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(pool).await.unwrap()
}

#[sqlx::test]
async fn a_key_of_another_account_is_refused_with_nothing_written_until_the_mirror_is_rebound(pool: PgPool) {
    let sim = two_accounts().await;
    let (url, base) = (database_url(&pool).await, sim.base_url().to_string());
    let dir = tempfile::tempdir().unwrap();
    let go = |args: Vec<&'static str>, key: &'static str| {
        run(dir.path().into(), args, url.clone(), base.clone(), key)
    };
    let out = go(vec!["sync"], DEMO_KEY).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let demo_account = SimKey::full(DEMO_KEY, 0).account_id();
    let other_account = SimKey::full(OTHER, 0).account_id();
    let bound: String =
        sqlx::query_scalar("SELECT account_id FROM tokportal.mirror_account").fetch_one(&pool).await.unwrap();
    assert_eq!(bound, demo_account);
    let runs = count(&pool, "SELECT count(*) FROM tokportal.sync_runs").await;

    // Another account's key: refused before anything is written.
    let out = go(vec!["sync"], OTHER).await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&demo_account) && err.contains(&other_account), "{err}");
    assert!(err.contains("worker mirror rebind --yes") && err.contains("fresh database"), "{err}");
    assert!(!err.contains(OTHER), "the key never appears: {err}");
    assert_eq!(count(&pool, "SELECT count(*) FROM tokportal.sync_runs").await, runs, "no run was recorded");
    assert_eq!(live_bundles(&pool).await.len(), 30);

    // Another key of the same account shares the mirror.
    let out = go(vec!["sync"], SAME).await;
    assert!(out.status.success(), "{}", text(&out.stderr));

    // The way out: without --yes nothing happens; with it, an empty mirror of the other account.
    let out = go(vec!["mirror", "rebind"], OTHER).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(live_bundles(&pool).await.len(), 30);
    // Every list table holds a row: those the default sync walked, and one planted in each other.
    assert!(count(&pool, "SELECT count(*) FROM tokportal.accounts").await > 0);
    assert!(count(&pool, "SELECT count(*) FROM tokportal.account_bans").await > 0);
    for table in list_tables() {
        let plant =
            format!("INSERT INTO {table} (id, data) VALUES ('planted', '{{}}') ON CONFLICT DO NOTHING");
        sqlx::query(sqlx::AssertSqlSafe(plant)).execute(&pool).await.unwrap();
    }
    let out = go(vec!["mirror", "rebind", "--yes"], OTHER).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    for table in list_tables() {
        assert_eq!(count(&pool, &format!("SELECT count(*) FROM {table}")).await, 0, "{table} is emptied");
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM tokportal.sync_runs").await, 0);
    let out = go(vec!["sync"], OTHER).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bound: String =
        sqlx::query_scalar("SELECT account_id FROM tokportal.mirror_account").fetch_one(&pool).await.unwrap();
    assert_eq!(bound, other_account);
    sim.shutdown().await;
}

#[sqlx::test]
async fn the_first_sync_binds_the_mirror_before_its_first_run_writes_anything(pool: PgPool) {
    let sim = two_accounts().await;
    let (url, base) = (database_url(&pool).await, sim.base_url().to_string());
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path().into(), vec!["sync"], url.clone(), base.clone(), DEMO_KEY).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Bound at the start of the first sync, not once it succeeded: a first
    // sync that fails half-way still leaves another account's key refused.
    let bound_first = count(
        &pool,
        "SELECT count(*) FROM tokportal.mirror_account m \
         WHERE m.bound_at <= (SELECT min(started_at) FROM tokportal.sync_runs)",
    )
    .await;
    assert_eq!(bound_first, 1);
}

#[sqlx::test]
async fn the_scheduled_sync_and_the_webhook_refresher_refuse_another_account_before_writing(pool: PgPool) {
    let sim = two_accounts().await;
    let m = mirror(&pool, &sim, settings());
    account::ensure(&pool, &m.client).await.unwrap();
    let other = crate::api_support::client(
        crate::api_support::client_options(&sim, OTHER),
        crate::api_support::budget_options(10_000.0, 10_000),
    );
    let scheduler = tokportal_sync::schedule::Scheduler {
        mirror: tokportal_sync::mirror::Mirror { client: other.clone(), ..m.clone() },
        streams: vec!["bundles"],
        walk_share: tokportal_sync::config::DEFAULT_WALK_SHARE,
    };
    let e = scheduler.tick_once(&CancellationToken::new()).await.unwrap_err();
    assert!(matches!(e.downcast_ref::<ApiError>(), Some(ApiError::Invalid { .. })), "{e:#}");
    assert_eq!(live_bundles(&pool).await.len(), 0);
    let refresher = tokportal_sync::webhooks::Refresher::new(pool.clone(), other, std::time::Duration::ZERO);
    let id = sim.bundle_ids()[0].clone();
    crate::webhooks::support::store(&pool, "evt_1", "bundle.created", serde_json::json!({ "id": id })).await;
    let e = refresh::refresh_once(&refresher).await.unwrap_err();
    assert!(format!("{e:#}").contains("worker mirror rebind"), "{e:#}");
    assert_eq!(live_bundles(&pool).await.len(), 0, "nothing was written");
    let (held, failed, attempts): (bool, bool, i32) = sqlx::query_as(
        "SELECT claimed_until IS NOT NULL, failed_at IS NOT NULL, attempts FROM tokportal.webhook_events",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((held, failed, attempts), (false, false, 0), "the event is back in the queue, untouched");
    sim.shutdown().await;
}
