//! The daemon as TokPortal's webhooks meet it: signed deliveries on
//! `server.listen`, secrets from `TOKPORTAL_WEBHOOK_SECRET` (two while one is
//! rotated), and an event stored just before a SIGKILL refreshed by the next
//! process.

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use sqlx::PgPool;
use tokportal_sync::sim::DEMO_KEY;

use super::once::sim;
use super::support::{Worker, config, env, run, scalar, until};
use crate::helpers::{database_url, text};
use crate::webhooks::support::{deliver, envelope};

const OLD: &str = "whsec_daemon_old";
const NEW: &str = "whsec_daemon_new";
/// A schedule that never comes round in a test: only webhooks refresh.
const NEVER: &str = "0 0 0 1 1 * 2099";

fn title(value: &str) -> Map<String, Value> {
    Map::from_iter([("title".to_string(), json!(value))])
}

async fn mirrored_title(pool: &PgPool, id: &str) -> Option<String> {
    sqlx::query_scalar("SELECT title FROM tokportal.bundles WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Requests the simulator served to the demo key.
fn requests(sim: &tokportal_sync::sim::SimServer) -> u64 {
    sim.key_stats(DEMO_KEY).map_or(0, |k| k.requests)
}

/// The daemon's environment with both secrets and a coalescing window.
fn daemon_env(url: &str, base: &str, coalesce_secs: &str) -> Vec<(&'static str, String)> {
    let mut env = env(url, base, "1000");
    env.push(("TOKPORTAL__API__BURST", "1000".into()));
    env.push(("TOKPORTAL_WEBHOOK_SECRET", format!("{OLD},{NEW}")));
    env.push(("TOKPORTAL__WEBHOOKS__COALESCE_SECS", coalesce_secs.into()));
    env
}

/// The receiver's URL, from the daemon's log.
async fn receiver_url(daemon: &mut Worker) -> String {
    let line = daemon.line("receiving webhooks on http://", Duration::from_secs(30)).await;
    let at = line.find("http://").unwrap();
    line[at..].split_whitespace().next().unwrap().to_string()
}

#[sqlx::test]
async fn the_daemon_verifies_a_delivery_with_either_secret_and_refreshes_the_bundle_it_names(pool: PgPool) {
    let sim = sim(20).await;
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &["bundles"], NEVER);
    let mut env = daemon_env(&url, sim.base_url().as_str(), "0");
    // Debug, so whatever the receiver and the refresher log is in the log the test reads.
    env.push((
        "TOKPORTAL__LOG__LEVEL",
        "debug,sqlx=warn,hyper=info,hyper_util=info,reqwest=info,rustls=info".into(),
    ));
    let out = run(dir.path(), &["sync", "--stream", "bundles"], &env).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut daemon = Worker::spawn(dir.path(), &[], &env);
    let hook = receiver_url(&mut daemon).await;
    let log = daemon.log();
    assert!(!log.contains(OLD) && !log.contains(NEW), "a secret reached the log:\n{log}");

    let ids = sim.bundle_ids();
    let (first, second) = (ids[0].clone(), ids[1].clone());
    assert!(sim.change_bundle(&first, title("signed with the old secret")));
    assert!(sim.change_bundle(&second, title("never announced properly")));
    let before = requests(&sim);
    // Unsigned and wrongly signed deliveries are refused and store nothing.
    let wrong = envelope("evt_wrong", "bundle.published", json!({ "id": second }));
    assert_eq!(deliver(&hook, "evt_unsigned", &wrong, None, 0).await, 401);
    assert_eq!(deliver(&hook, "evt_forged", &wrong, Some("whsec_someone_else"), 0).await, 401);
    assert_eq!(deliver(&hook, "evt_late", &wrong, Some(NEW), -3600).await, 401);
    // Signed with the old secret while the new one is being rolled out.
    let body = envelope("evt_old", "bundle.published", json!({ "id": first }));
    assert_eq!(deliver(&hook, "evt_old", &body, Some(OLD), 0).await, 200);
    until(
        &pool,
        "SELECT count(*) FROM tokportal.webhook_events WHERE refreshed_at IS NOT NULL",
        Duration::from_secs(30),
        |n| n == 1,
    )
    .await;
    assert_eq!(mirrored_title(&pool, &first).await.as_deref(), Some("signed with the old secret"));
    assert_ne!(mirrored_title(&pool, &second).await.as_deref(), Some("never announced properly"));
    assert_eq!(scalar(&pool, "SELECT count(*) FROM tokportal.webhook_events").await, 1);
    assert_eq!(requests(&sim) - before, 1, "one GET /bundles/{{id}} for the event");

    // The new secret signs too; a redelivery of a stored event costs nothing.
    assert!(sim.change_bundle(&first, title("signed with the new secret")));
    let body = envelope("evt_new", "bundle.cancelled", json!({ "bundle_id": first }));
    assert_eq!(deliver(&hook, "evt_new", &body, Some(NEW), 0).await, 200);
    assert_eq!(deliver(&hook, "evt_new", &body, Some(NEW), 0).await, 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    while mirrored_title(&pool, &first).await.as_deref() != Some("signed with the new secret") {
        assert!(Instant::now() < deadline, "not refreshed within 30 s:\n{}", daemon.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(scalar(&pool, "SELECT count(*) FROM tokportal.webhook_events").await, 2);
    // After refused deliveries and refreshes too, neither secret nor the API key reached the log.
    let log = daemon.log();
    assert!(log.contains("a webhook delivery was refused"), "{log}");
    assert!(
        !log.contains(OLD) && !log.contains(NEW) && !log.contains(DEMO_KEY),
        "a secret reached the log:\n{log}"
    );
    daemon.sigterm();
    assert!(daemon.exit_within(Duration::from_secs(30)).await.success(), "{}", daemon.log());
    sim.shutdown().await;
}

#[sqlx::test]
async fn an_event_stored_before_a_sigkill_is_refreshed_by_the_restarted_daemon(pool: PgPool) {
    let sim = sim(10).await;
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &["bundles"], NEVER);
    let base = sim.base_url().to_string();
    let out = run(dir.path(), &["sync", "--stream", "bundles"], &daemon_env(&url, &base, "0")).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = sim.bundle_ids()[3].clone();
    assert!(sim.change_bundle(&id, title("changed before the crash")));

    // A minute's coalescing window (the longest allowed): the event is stored and answered, and
    // its refresh waits, so the SIGKILL lands between the two.
    let mut first = Worker::spawn(dir.path(), &[], &daemon_env(&url, &base, "60"));
    let hook = receiver_url(&mut first).await;
    let body = envelope("evt_before_crash", "bundle.published", json!({ "id": id }));
    assert_eq!(deliver(&hook, "evt_before_crash", &body, Some(NEW), 0).await, 200);
    first.sigkill();
    let pending = "SELECT count(*) FROM tokportal.webhook_events WHERE refreshed_at IS NULL";
    assert_eq!(scalar(&pool, pending).await, 1, "stored before the answer, not refreshed:\n{}", first.log());
    assert_ne!(mirrored_title(&pool, &id).await.as_deref(), Some("changed before the crash"));

    let mut second = Worker::spawn(dir.path(), &[], &daemon_env(&url, &base, "0"));
    until(&pool, pending, Duration::from_secs(30), |n| n == 0).await;
    assert_eq!(mirrored_title(&pool, &id).await.as_deref(), Some("changed before the crash"));
    second.sigterm();
    assert!(second.exit_within(Duration::from_secs(30)).await.success(), "{}", second.log());
    sim.shutdown().await;
}
