//! What the listing commands print: `webhooks list` as text and JSON, `webhooks
//! delete` through the queue, `jobs list` in aligned columns with the API's message.

use sqlx::PgPool;
use tokportal_sync::sim::DEMO_KEY;

use super::support::{env, run, sim};
use crate::helpers::{database_url, text};

#[sqlx::test]
async fn webhooks_list_says_all_events_for_an_empty_list_and_json_is_the_api_s_items(pool: PgPool) {
    let sim = sim(1).await;
    let url = database_url(&pool).await;
    let all = sim.register_webhook(DEMO_KEY, "https://example.test/all", &[]).unwrap();
    let some = sim.register_webhook(DEMO_KEY, "https://example.test/some", &["bundle.created"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = env(&sim, &url);

    let out = run(dir.path(), &["webhooks", "list"], &env).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = |id: &str| stdout.lines().find(|l| l.starts_with(id)).unwrap_or_default().to_string();
    assert!(line(&all.id).ends_with("all events"), "{stdout}");
    assert!(line(&some.id).ends_with("events bundle.created"), "{stdout}");

    let out = run(dir.path(), &["webhooks", "list", "--json"], &env).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let items: Vec<serde_json::Value> =
        text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(items.len(), 2);
    assert!(items.iter().any(|i| i["id"] == all.id.as_str() && i["events"] == serde_json::json!([])));
    sim.shutdown().await;
}

#[sqlx::test]
async fn webhooks_delete_sends_delete_under_a_persisted_key_and_an_unknown_id_exits_1(pool: PgPool) {
    let sim = sim(1).await;
    let url = database_url(&pool).await;
    let hook = sim.register_webhook(DEMO_KEY, "https://example.test/h", &[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = env(&sim, &url);
    // Another due job: the command sends its own DELETE, not the rest of the queue.
    sqlx::query("INSERT INTO tokportal.mutation_jobs (method, path) VALUES ('POST', '/bundles/b1/publish')")
        .execute(&pool)
        .await
        .unwrap();

    let out = run(dir.path(), &["webhooks", "delete", &hook.id], &env).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("Deleted webhook endpoint {}", hook.id)), "{stdout}");
    assert!(sim.webhook_endpoints().is_empty());
    let (method, path, status, key): (String, String, String, String) = sqlx::query_as(
        "SELECT method, path, status, idempotency_key FROM tokportal.mutation_jobs WHERE method = 'DELETE'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((method.as_str(), status.as_str()), ("DELETE", "succeeded"));
    assert_eq!(path, format!("/webhooks/{}", hook.id));
    assert!(!key.is_empty());
    let other: (String, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as("SELECT status, first_sent_at FROM tokportal.mutation_jobs WHERE method = 'POST'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(other, ("queued".to_string(), None), "the other due job was left to replay");

    let out = run(dir.path(), &["webhooks", "delete", &hook.id], &env).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("WEBHOOK_NOT_FOUND"), "{stderr}");

    let out = run(dir.path(), &["webhooks", "delete", "../credits"], &env).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    sim.shutdown().await;
}

#[sqlx::test]
async fn jobs_list_aligns_its_columns_and_shows_the_code_and_message_not_the_envelope(pool: PgPool) {
    let sim = sim(1).await;
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let env = env(&sim, &url);
    let long = format!("/bundles/{}/publish", "b".repeat(60));
    for (path, body) in [("/bundles", r#"{"bundle_type":"nope"}"#), (long.as_str(), "")] {
        sqlx::query(
            "INSERT INTO tokportal.mutation_jobs (method, path, body, run_after)
             VALUES ('POST', $1, nullif($2, ''), '2030-01-02 03:04:05+00')",
        )
        .bind(path)
        .bind(body)
        .execute(&pool)
        .await
        .unwrap();
    }
    let out = run(dir.path(), &["jobs", "list"], &env).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    let column = lines[0].find("run after (UTC)").unwrap();
    for line in &lines[1..] {
        assert_eq!(line.find("2030-01-02 03:04:05"), Some(column), "aligned under the header:\n{stdout}");
    }

    sqlx::query("UPDATE tokportal.mutation_jobs SET run_after = now()").execute(&pool).await.unwrap();
    let out = run(dir.path(), &["replay"], &env).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(dir.path(), &["jobs", "list", "--status", "failed"], &env).await;
    let stdout = text(&out.stdout);
    let failed =
        stdout.lines().find(|l| l.contains("VALIDATION_ERROR")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(failed.contains("bundle_type"), "the API's message: {failed}");
    assert!(!failed.contains(r#"{"error""#), "not the envelope: {failed}");
    sim.shutdown().await;
}
