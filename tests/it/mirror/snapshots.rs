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
