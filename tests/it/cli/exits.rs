//! Exit statuses as documented: 2 for every configuration or usage error
//! (checked before anything is sent), 3 for a refused key, told by its first 401.

use sqlx::PgPool;

use super::support::{env, run, sim};
use crate::helpers::{database_url, text, worker};

#[sqlx::test]
async fn a_missing_api_key_exits_2_naming_the_variable_for_every_command_that_needs_one(pool: PgPool) {
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let commands: [&[&str]; 6] = [
        &["sync"],
        &["replay"],
        &["--once"],
        &["get", "/me"],
        &["webhooks", "list"],
        &["mirror", "rebind", "--yes"],
    ];
    for args in commands {
        let out = run(dir.path(), args, &[("DATABASE_URL", url.clone())]).await;
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("TOKPORTAL_API_KEY"), "{args:?}: {err}");
    }
}

#[sqlx::test]
async fn an_unreadable_body_file_exits_2_and_queues_nothing(pool: PgPool) {
    let url = database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let args = ["enqueue", "POST", "/bundles", "--body-file", "missing.json"];
    let out = run(dir.path(), &args, &[("DATABASE_URL", url)]).await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--body-file missing.json"), "{err}");
    let queued: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tokportal.mutation_jobs").fetch_one(&pool).await.unwrap();
    assert_eq!(queued, 0);
}

#[test]
fn a_malformed_key_fingerprint_exits_2_saying_what_a_fingerprint_looks_like() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["zz", "7267626208cd721", "7267626208cd7215x"] {
        let out = worker(dir.path(), &["budget", "reset", "--key-fingerprint", bad], &[]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {err}");
        assert!(err.contains("16 hexadecimal digits"), "{err}");
    }
}

#[tokio::test]
async fn an_invalid_webhook_url_exits_2_and_nothing_is_sent() {
    let sim = sim(1).await;
    let dir = tempfile::tempdir().unwrap();
    let env: Vec<_> = env(&sim, "").into_iter().filter(|(k, _)| *k != "DATABASE_URL").collect();
    for bad in ["notaurl", "/webhooks/tokportal", "ftp://example.test/h"] {
        let out = run(dir.path(), &["webhooks", "register", "--url", bad], &env).await;
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {err}");
        assert!(err.contains("absolute http or https URL"), "{err}");
    }
    assert!(sim.webhook_endpoints().is_empty(), "nothing was sent");
    sim.shutdown().await;
}

#[test]
fn a_negative_or_zero_number_gets_a_clear_message_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [&[&str]; 5] = [
        &["jobs", "list", "--limit", "-1"],
        &["jobs", "list", "--limit", "0"],
        &["runs", "--limit", "-5"],
        &["jobs", "show", "-3"],
        &["jobs", "cancel", "0"],
    ];
    for args in cases {
        let out = worker(dir.path(), args, &[]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("must be at least 1"), "{args:?}: {err}");
        assert!(!err.contains("unexpected argument"), "{args:?}: {err}");
    }
}

#[test]
fn a_crontab_schedule_of_5_fields_exits_2_with_one_clear_line_and_no_caret() {
    let dir = tempfile::tempdir().unwrap();
    let out = worker(dir.path(), &["check-config"], &[("TOKPORTAL__SYNC__SCHEDULE", "*/5 * * * *")]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("sync.schedule") && err.contains("has 5 fields"), "{err}");
    assert!(err.contains("write \"0 */5 * * * *\""), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(!err.contains('^'), "{err}");
}

#[sqlx::test]
async fn a_refused_key_stops_once_and_sync_at_the_first_401_and_exits_3(pool: PgPool) {
    let sim = sim(5).await;
    let url = database_url(&pool).await;
    sqlx::query("INSERT INTO tokportal.mutation_jobs (method, path, body) VALUES ('POST', '/bundles', $1)")
        .bind(r#"{"bundle_type":"account_only","platform":"tiktok","country":"US"}"#)
        .execute(&pool)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut env = env(&sim, &url);
    env.retain(|(k, _)| *k != "TOKPORTAL_API_KEY");
    env.push(("TOKPORTAL_API_KEY", "sk_refused".into()));

    let out = run(dir.path(), &["--once"], &env).await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(sim.stats().refused, 1, "the replay's 401, and no walk after it: {err}");
    assert!(err.contains("refused the key"), "{err}");

    let out = run(dir.path(), &["sync"], &env).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    // GET /me's 401, and no stream walked after it. At a database's first sync, page 1 of the
    // first walk is asked for together with GET /me: it is refused too when it left before the
    // 401 stopped the sync, and never sent when it was still waiting for the budget.
    let refused = sim.stats().refused - 1;
    assert!(refused == 1 || refused == 2, "GET /me and at most page 1 beside it: {refused} refused");
    sim.shutdown().await;
}
