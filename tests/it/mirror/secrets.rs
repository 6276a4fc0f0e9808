//! The webhook endpoints stream never stores a secret: keys named `secret`
//! or ending in `_secret` are stripped at any depth from list items, from
//! the `GET /webhooks/{id}` answer of a delete check, and from the excerpt
//! of an item set aside; a value of the wrong shape leaves its typed column
//! NULL while `data` keeps it.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sqlx::PgPool;
use tokportal_sync::mirror::{Mirror, Status};
use tokportal_sync::sim::DEMO_KEY;

use super::support::{Script, mirror, proxy, settings, sim, sync, unchanged};

/// Every text the mirror stored of the webhook endpoints, the problems and the runs.
async fn stored_text(pool: &PgPool) -> String {
    sqlx::query_scalar(
        "SELECT concat_ws(' ', \
           (SELECT string_agg(data::text, ' ') FROM tokportal.webhook_endpoints), \
           (SELECT string_agg(excerpt, ' ') FROM tokportal.sync_problems), \
           (SELECT string_agg(concat_ws(' ', note, error), ' ') FROM tokportal.sync_runs))",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

type Typed = (Option<String>, Option<bool>, Option<Vec<String>>, Option<chrono::DateTime<chrono::Utc>>);

async fn typed(pool: &PgPool) -> BTreeMap<String, Typed> {
    sqlx::query_as::<_, (String, Option<String>, Option<bool>, Option<Vec<String>>, Option<chrono::DateTime<chrono::Utc>>)>(
        "SELECT id, url, enabled, events, created_at FROM tokportal.webhook_endpoints WHERE deleted_at IS NULL",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|(id, url, enabled, events, created)| (id, (url, enabled, events, created)))
    .collect()
}

#[sqlx::test]
async fn secrets_at_any_depth_are_never_stored_and_a_value_of_the_wrong_shape_is_null(pool: PgPool) {
    let page = json!({
        "data": [
            {"id": "w1", "url": "https://a.example/hook", "enabled": true, "events": ["bundle.created", "a\"b"],
             "created_at": "2026-12-01T10:00:00Z", "secret": "whsec_top",
             "signing": {"alg": "sha256", "hmac_secret": "whsec_nested", "keys": [{"Client_Secret": "whsec_deep"}]}},
            {"id": "w2", "url": "https://b.example/hook", "enabled": "yes", "events": [1, "bundle.updated"],
             "created_at": "yesterday"},
            {"url": "https://c.example/hook", "secret": "whsec_without_id"}
        ],
        "pagination": {"page": 1, "per_page": 25, "total": 3, "total_pages": 1}
    });
    let body = page.to_string();
    let app = axum::Router::new().route(
        "/webhooks",
        axum::routing::get(move || {
            let body = body.clone();
            async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], body) }
        }),
    );
    let (options, server) = crate::api_support::scripted(app).await;
    let client = crate::api_support::client(options, crate::api_support::budget_options(10_000.0, 10_000));
    let m = Mirror::new(pool.clone(), client, settings());

    let run = sync(&m, "webhook_endpoints").await;
    assert_eq!(run.status, Status::SucceededWithProblems, "{:?}", run.error);
    assert_eq!((run.tally.inserted, run.tally.problems), (2, 1));
    let stored = stored_text(&pool).await;
    assert!(!stored.contains("whsec_"), "a secret was stored: {stored}");
    let w1: Value = sqlx::query_scalar("SELECT data FROM tokportal.webhook_endpoints WHERE id = 'w1'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        w1,
        json!({"id": "w1", "url": "https://a.example/hook", "enabled": true, "events": ["bundle.created", "a\"b"],
               "created_at": "2026-12-01T10:00:00Z", "signing": {"alg": "sha256", "keys": [{}]}})
    );
    let rows = typed(&pool).await;
    let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z").unwrap().to_utc();
    let events = vec!["bundle.created".to_string(), "a\"b".to_string()];
    assert_eq!(rows["w1"], (Some("https://a.example/hook".into()), Some(true), Some(events), Some(at)));
    assert_eq!(
        rows["w2"],
        (Some("https://b.example/hook".into()), None, None, None),
        "wrong shapes are NULL"
    );
    let w2: Value = sqlx::query_scalar("SELECT data FROM tokportal.webhook_endpoints WHERE id = 'w2'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        (&w2["enabled"], &w2["events"], &w2["created_at"]),
        (&json!("yes"), &json!([1, "bundle.updated"]), &json!("yesterday"))
    );

    // Compared without their secrets: the same items again rewrite nothing.
    let again = sync(&m, "webhook_endpoints").await;
    assert_eq!((again.tally.updated, again.tally.unchanged), (0, 2), "{:?}", again.note);
    server.abort();
}

#[sqlx::test]
async fn webhook_endpoints_equal_the_simulators_and_a_delete_check_stores_no_secret(pool: PgPool) {
    let sim = sim(5).await;
    let secrets: Vec<String> = (0..3)
        .map(|i| {
            let url = format!("http://127.0.0.1:9/hook/{i}");
            sim.register_webhook(DEMO_KEY, &url, &["bundle.created"]).expect("the demo key").secret
        })
        .collect();
    let m = mirror(&pool, &sim, settings());
    let run = sync(&m, "webhook_endpoints").await;
    assert_eq!((run.status, run.tally.inserted), (Status::Succeeded, 3), "{:?}", run.error);
    let expected: BTreeMap<String, (Option<String>, Option<Vec<String>>)> =
        sim.webhook_endpoints().into_iter().map(|e| (e.id, (Some(e.url), Some(e.events)))).collect();
    let mirrored: BTreeMap<String, (Option<String>, Option<Vec<String>>)> =
        typed(&pool).await.into_iter().map(|(id, (url, _, events, _))| (id, (url, events))).collect();
    assert_eq!(mirrored, expected);

    // An endpoint disabled: that row alone changes.
    let disabled = sim.webhook_endpoints()[1].id.clone();
    assert!(sim.set_webhook_enabled(&disabled, false));
    let run = sync(&m, "webhook_endpoints").await;
    assert_eq!((run.tally.updated, run.tally.unchanged), (1, 2), "{:?}", run.error);
    let enabled: BTreeMap<String, Option<bool>> =
        typed(&pool).await.into_iter().map(|(id, (_, enabled, _, _))| (id, enabled)).collect();
    let want: BTreeMap<String, Option<bool>> =
        expected.keys().map(|id| (id.clone(), Some(*id != disabled))).collect();
    assert_eq!(enabled, want);

    // A walk that misses one endpoint asks GET /webhooks/{id}, whose answer carries the secret.
    fn hide_first(path: &str, _: &str, mut body: Value) -> Value {
        if path == "/webhooks" {
            body["data"].as_array_mut().unwrap().remove(0);
            body["pagination"]["total"] = json!(body["pagination"]["total"].as_u64().unwrap() - 1);
        }
        body
    }
    let (hidden, server) = proxy(&pool, &sim, Script::default(), hide_first).await;
    let run = sync(&hidden, "webhook_endpoints").await;
    assert_eq!((run.tally.delete_checks, run.tally.deleted), (1, 0), "{:?}", run.note);
    assert_eq!(run.note, None, "the endpoint answered");
    assert_eq!(run.tally.updated, 0, "the answer without its secret is the row already held");
    let stored = stored_text(&pool).await;
    for secret in &secrets {
        assert!(!stored.contains(secret.as_str()), "a secret was stored");
    }
    assert_eq!(typed(&pool).await.len(), 3, "the endpoint the walk missed is live");

    // Gone for real: the detail's WEBHOOK_NOT_FOUND marks it deleted.
    let gone = sim.webhook_endpoints()[0].id.clone();
    let deleted = reqwest::Client::new()
        .delete(format!("{}/webhooks/{gone}", sim.base_url()))
        .header("x-api-key", DEMO_KEY)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success());
    let (plain, plain_server) = proxy(&pool, &sim, Script::default(), unchanged).await;
    let run = sync(&plain, "webhook_endpoints").await;
    assert_eq!(run.tally.deleted, 1, "{:?}", run.note);
    assert!(!typed(&pool).await.contains_key(&gone));
    server.abort();
    plain_server.abort();
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_malformed_page_fails_the_run_with_an_excerpt_that_holds_no_secret(pool: PgPool) {
    let body = json!({
        "data": {"id": "w1", "url": "https://a.example/hook", "secret": "whsec_in_a_malformed_page"},
        "pagination": {"page": 1, "per_page": 25, "total": 1, "total_pages": 1}
    })
    .to_string();
    let app = axum::Router::new().route(
        "/webhooks",
        axum::routing::get(move || {
            let body = body.clone();
            async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], body) }
        }),
    );
    let (options, server) = crate::api_support::scripted(app).await;
    let client = crate::api_support::client(options, crate::api_support::budget_options(10_000.0, 10_000));
    let run = sync(&Mirror::new(pool.clone(), client, settings()), "webhook_endpoints").await;
    assert_eq!(run.status, Status::Failed);
    let error = format!("{:#}", run.error.expect("the page's error"));
    assert!(error.contains("not a page of a list") && error.contains("https://a.example/hook"), "{error}");
    assert!(!error.contains("whsec_"), "{error}");
    let stored = stored_text(&pool).await;
    assert!(stored.contains("not a page of a list") && !stored.contains("whsec_"), "{stored}");
    server.abort();
}
