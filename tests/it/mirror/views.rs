//! The views of the schema, each on simulator data: what each answers is
//! computed again from the simulator's own dataset and compared.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration as Days, Utc};
use serde_json::{Map, Value, json};
use sqlx::PgPool;
use tokportal_sync::api::{IdempotencyKey, MutationMethod};
use tokportal_sync::mirror::Mirror;
use tokportal_sync::sim::SimServer;

use super::deliveries::{delivered, receiver, refused, sim_once};
use super::support::{mirror, settings, sim, sync};
use crate::api_support::demo_client;

/// Runs `streams` in turn, each to success.
async fn synced(m: &Mirror, streams: &[&str]) {
    for stream in streams {
        let run = sync(m, stream).await;
        assert!(run.status.succeeded(), "{run}");
    }
}

fn text(v: &Value, field: &str) -> Option<String> {
    v.get(field).and_then(Value::as_str).map(str::to_string)
}

fn at(v: &Value, field: &str) -> Option<DateTime<Utc>> {
    v.get(field).and_then(Value::as_str).and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(Into::into)
}

fn set(field: &str, value: Value) -> Map<String, Value> {
    Map::from_iter([(field.to_string(), value)])
}

/// Each bundle's delivered account, by bundle id.
fn accounts_of_bundles(sim: &SimServer) -> BTreeMap<String, Option<String>> {
    sim.list_items().into_iter().map(|(id, item)| (id, text(&item, "saved_account_id"))).collect()
}

/// A ban of an account (by `account_id`) no longer banned, and an account never banned.
fn ban_targets(sim: &SimServer) -> (String, String) {
    let bans = sim.account_bans();
    let banned = bans.values().next().expect("a seeded ban");
    let unbanned = sim
        .saved_accounts()
        .into_iter()
        .find(|(id, _)| !bans.values().any(|b| text(b, "account_id").as_deref() == Some(id.as_str())))
        .expect("an account never banned")
        .0;
    (text(banned, "id").unwrap(), unbanned)
}

#[sqlx::test]
async fn bundle_overview_shows_each_bundle_with_its_account_latest_ban_and_latest_analytics(pool: PgPool) {
    let sim = sim(60).await;
    // An account banned twice: the old ban lifted, then a new one, the latest.
    let (old_ban, _) = ban_targets(&sim);
    let twice = text(&sim.account_bans()[&old_ban], "account_id").unwrap();
    let lifted =
        Map::from_iter([("status".into(), json!("resolved")), ("resolution".into(), json!("reinstated"))]);
    assert!(sim.change_ban(&old_ban, lifted));
    let new_ban = sim.ban_saved_account(&twice).expect("the account can be banned again");
    let m = mirror(&pool, &sim, settings());
    synced(&m, &["bundles", "accounts", "account_bans", "account_analytics"]).await;

    let accounts = sim.saved_accounts();
    let bans = sim.account_bans();
    let latest_ban = |account: &str| {
        bans.values()
            .filter(|b| text(b, "account_id").as_deref() == Some(account))
            .max_by_key(|b| (at(b, "banned_at"), at(b, "created_at"), text(b, "id")))
            .and_then(|b| text(b, "id"))
    };
    type Row = (String, Option<String>, Option<String>, Option<String>, Option<i64>);
    let expected: Vec<Row> = accounts_of_bundles(&sim)
        .into_iter()
        .map(|(bundle, account)| match account {
            None => (bundle, None, None, None, None),
            Some(a) => {
                let followers = sim.analytics(&a).and_then(|x| x["followers"].as_i64());
                (bundle, Some(a.clone()), text(&accounts[&a], "username"), latest_ban(&a), followers)
            }
        })
        .collect();
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT bundle_id, account_id, username, latest_ban_id, followers FROM tokportal.bundle_overview \
         ORDER BY bundle_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows, expected);
    assert!(
        rows.iter().any(|r| r.3.is_some() && r.4.is_some()),
        "some bundles' accounts have bans and analytics"
    );
    let of_twice: Vec<&Row> = rows.iter().filter(|r| r.1.as_deref() == Some(twice.as_str())).collect();
    assert!(!of_twice.is_empty() && of_twice.iter().all(|r| r.3.as_deref() == Some(new_ban.as_str())));
    sim.shutdown().await;
}

#[sqlx::test]
async fn recent_account_bans_lists_the_bans_of_the_last_seven_days_with_their_bundles(pool: PgPool) {
    let sim = sim(60).await;
    let (old_ban, unbanned) = ban_targets(&sim);
    let month_ago = (Utc::now() - Days::days(30)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert!(sim.change_ban(&old_ban, set("banned_at", json!(month_ago))));
    let new_ban = sim.ban_saved_account(&unbanned).expect("an account never banned can be banned");
    let m = mirror(&pool, &sim, settings());
    synced(&m, &["bundles", "accounts", "account_bans"]).await;

    let week_ago = Utc::now() - Days::days(7);
    let bundles = accounts_of_bundles(&sim);
    let expected: Vec<(String, String, Vec<String>)> = sim
        .account_bans()
        .into_values()
        .filter(|b| at(b, "banned_at").is_some_and(|t| t >= week_ago))
        .map(|b| {
            let account = text(&b, "account_id").unwrap();
            let of: Vec<String> = bundles
                .iter()
                .filter(|(_, a)| a.as_deref() == Some(&account))
                .map(|(id, _)| id.clone())
                .collect();
            (text(&b, "id").unwrap(), account, of)
        })
        .collect();
    let rows: Vec<(String, String, Vec<String>)> = sqlx::query_as(
        "SELECT ban_id, account_id, bundle_ids FROM tokportal.recent_account_bans ORDER BY ban_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows, expected);
    assert!(rows.iter().any(|r| r.0 == new_ban), "the ban made now is listed");
    assert!(rows.iter().all(|r| r.0 != old_ban), "the ban of a month ago is not");
    sim.shutdown().await;
}

#[sqlx::test]
async fn pending_comments_per_account_counts_the_tasks_not_done_of_each_account(pool: PgPool) {
    let sim = sim(60).await;
    let comments = sim.comments();
    let mut ids = comments.keys();
    assert!(sim.change_comment(ids.next().unwrap(), set("status", json!("in_progress"))));
    assert!(sim.change_comment(ids.next().unwrap(), set("status", json!("verified"))));
    let m = mirror(&pool, &sim, settings());
    synced(&m, &["accounts", "comments"]).await;

    let mut expected: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
    for c in sim.comments().values() {
        let status = text(c, "status").unwrap_or_default();
        if status == "pending" || status == "in_progress" {
            let e = expected.entry(text(c, "saved_account_id").unwrap()).or_default();
            e.0 += 1;
            e.1 += i64::from(status == "pending");
            e.2 += i64::from(status == "in_progress");
        }
    }
    let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT account_id, pending, not_started, in_progress FROM tokportal.pending_comments_per_account",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let rows: BTreeMap<String, (i64, i64, i64)> =
        rows.into_iter().map(|(a, p, n, i)| (a, (p, n, i))).collect();
    assert_eq!(rows, expected);
    assert!(rows.values().any(|c| c.2 > 0), "a task in progress is counted");
    sim.shutdown().await;
}

#[sqlx::test]
async fn credit_balance_history_shows_each_balance_its_change_and_until_when_it_held(pool: PgPool) {
    let sim = sim(3).await;
    let m = mirror(&pool, &sim, settings());
    let client = demo_client(&sim, 10_000.0, 10_000);
    let balance =
        || async { client.get("/credits/balance", &[]).await.unwrap().body["data"]["balance"].as_f64() };
    synced(&m, &["credit_balance"]).await;
    let first = balance().await.unwrap();
    let key = IdempotencyKey::new("views-spend").unwrap();
    let body = r#"{"bundle_type":"account_only","platform":"tiktok","country":"US"}"#;
    client.mutate(MutationMethod::Post, "/bundles", &key, Some(body)).await.unwrap();
    let second = balance().await.unwrap();
    assert!(second < first, "creating a bundle costs credits");
    synced(&m, &["credit_balance", "credit_balance"]).await;

    let rows: Vec<(f64, Option<f64>, bool)> = sqlx::query_as(
        "SELECT balance::float8, change::float8, until IS NOT NULL FROM tokportal.credit_balance_history \
         ORDER BY taken_at",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows, vec![(first, None, true), (second, Some(second - first), false)]);
    sim.shutdown().await;
}

#[sqlx::test]
async fn failed_webhook_deliveries_lists_what_the_api_says_failed_and_whether_the_receiver_got_it(
    pool: PgPool,
) {
    let sim = sim_once().await;
    let (ok, dead) = (receiver().await, refused().await);
    let endpoints = delivered(&sim, &[ok, dead.clone()], 3).await;
    let m = mirror(&pool, &sim, settings());
    synced(&m, &["webhook_endpoints", "webhook_deliveries"]).await;

    let mut expected: Vec<(String, String)> = Vec::new();
    for endpoint in &endpoints {
        for d in sim.webhook_deliveries_served(endpoint).unwrap() {
            if d["success"] == json!(false) {
                expected.push((text(&d, "id").unwrap(), text(&d, "event_id").unwrap()));
            }
        }
    }
    expected.sort();
    assert_eq!(expected.len(), 3, "every delivery to the dead endpoint failed");
    // The receiver stored one of those events anyway (a redelivery, another route).
    let got = &expected[0].1;
    tokportal_sync::webhooks::events::insert(&pool, got, "bundle.created", None, &json!({ "id": got }))
        .await
        .unwrap();

    let rows: Vec<(String, Option<String>, String, bool)> = sqlx::query_as(
        "SELECT delivery_id, endpoint_url, event_id, received FROM tokportal.failed_webhook_deliveries \
         ORDER BY delivery_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let want: Vec<(String, Option<String>, String, bool)> = expected
        .iter()
        .map(|(id, event)| (id.clone(), Some(dead.clone()), event.clone(), event == got))
        .collect();
    assert_eq!(rows, want);
    sim.shutdown().await;
}
