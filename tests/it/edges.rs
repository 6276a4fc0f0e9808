//! Edges a new user meets first (issue 9): configuration and usage errors
//! exit 2, Postgres failures say their cause at once, paths stay inside
//! `api.base_url`, the key travels only over TLS, the simulator refuses
//! absurd sizes and bad flags.

use sqlx::PgPool;
use tokportal_sync::sim::{self, DEMO_KEY, SimConfig};

use crate::helpers::{database_url, text, worker};

/// Runs the worker off the async runtime, so an in-process simulator keeps answering.
async fn worker_async(args: Vec<String>, env: Vec<(String, String)>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        worker(dir.path(), &args, &env)
    })
    .await
    .unwrap()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_command_that_needs_postgres_without_database_url_exits_2_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["migrate", "sync", "replay", "runs"] {
        let out = worker(dir.path(), &[command], &[("TOKPORTAL_API_KEY", "sk_x")]);
        assert_eq!(out.status.code(), Some(2), "{command}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("DATABASE_URL is not set"), "{}", text(&out.stderr));
    }
}

#[test]
fn an_unparseable_database_url_exits_2_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["check-config", "migrate"] {
        let out = worker(dir.path(), &[command], &[("DATABASE_URL", "not a url secretpw")]);
        assert_eq!(out.status.code(), Some(2), "{command}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains("DATABASE_URL") && stderr.contains("not a Postgres URL"), "{stderr}");
        assert!(!stderr.contains("secretpw"), "{stderr}");
    }
}

#[test]
fn a_refused_connection_is_said_at_once_not_after_the_pool_timeout() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("postgres://postgres:hunter2@127.0.0.1:{port}/postgres");
    let dir = tempfile::tempdir().unwrap();
    // The cause, not the pool's "timed out" after database.connect_timeout_secs.
    let out = worker(dir.path(), &["migrate"], &[("DATABASE_URL", &url)]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("connection refused"), "{stderr}");
    assert!(!stderr.contains("hunter2") && !stderr.contains("timed out"), "{stderr}");
}

#[sqlx::test]
async fn a_missing_database_is_named_once_without_the_servers_source_line(pool: PgPool) {
    let mut url = url::Url::parse(&database_url(&pool).await).unwrap();
    url.set_path("/no_such_database_for_tokportal");
    let out = worker_async(strings(&["migrate"]), vec![("DATABASE_URL".into(), url.to_string())]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.matches("does not exist").count(), 1, "{stderr}");
    assert!(!stderr.contains("at line"), "{stderr}");
    assert!(stderr.contains("createdb"), "{stderr}");
}

#[test]
fn slow_statement_warnings_are_hidden_at_the_default_log_level() {
    let dir = tempfile::tempdir().unwrap();
    let out = worker(dir.path(), &["check-config"], &[]);
    assert!(text(&out.stdout).contains("sqlx::query=error"), "{}", text(&out.stdout));
}

#[tokio::test]
async fn worker_get_refuses_paths_that_leave_the_base_url_and_sends_nothing() {
    let sim = sim::start(SimConfig { rate_limit: false, ..SimConfig::default() }).await.unwrap();
    let env = vec![
        ("TOKPORTAL__API__BASE_URL".to_string(), sim.base_url().to_string()),
        ("TOKPORTAL_API_KEY".to_string(), DEMO_KEY.to_string()),
    ];
    for path in
        ["/../../__sim/stats", "/bundles/%2e%2e/%2e%2e/__sim/stats", "/bundles\\..\\..", "//evil.example/x"]
    {
        let out = worker_async(strings(&["get", path]), env.clone()).await;
        assert_eq!(out.status.code(), Some(2), "{path}: {}", text(&out.stderr));
        assert!(text(&out.stdout).is_empty(), "{path}");
    }
    assert_eq!(sim.key_stats(DEMO_KEY).map(|k| k.requests).unwrap_or(0), 0, "nothing reached the server");
    sim.shutdown().await;
}

#[sqlx::test]
async fn enqueue_and_the_schema_refuse_paths_that_leave_the_base_url(pool: PgPool) {
    let url = database_url(&pool).await;
    let env = vec![("DATABASE_URL".to_string(), url)];
    let out = worker_async(strings(&["migrate"]), env.clone()).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = worker_async(strings(&["enqueue", "POST", "/bundles/../webhooks", "--body", "{}"]), env).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("`..`"), "{}", text(&out.stderr));

    tokportal_sync::db::migrate(&pool).await.unwrap();
    for path in ["/bundles/../x", "/%2E%2e/x", "/./bundles", "//host/x", "/a\\b"] {
        let refused =
            sqlx::query("INSERT INTO tokportal.mutation_jobs (method, path, body) VALUES ('POST', $1, '{}')")
                .bind(path)
                .execute(&pool)
                .await;
        assert!(refused.is_err(), "{path} was accepted by the table");
    }
    sqlx::query(
        "INSERT INTO tokportal.mutation_jobs (method, path, body) VALUES ('POST', '/bundles/a.b', '{}')",
    )
    .execute(&pool)
    .await
    .expect("a dot inside a segment is fine");
}

#[test]
fn plain_http_is_refused_unless_loopback_or_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let out = worker(
        dir.path(),
        &["check-config"],
        &[("TOKPORTAL__API__BASE_URL", "http://api.example.com/api/ext")],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("api.base_url") && stderr.contains("allow_insecure"), "{stderr}");
    for url in ["http://127.0.0.1:8787/api/ext", "http://localhost/api/ext", "http://[::1]:9/api/ext"] {
        let out = worker(dir.path(), &["check-config"], &[("TOKPORTAL__API__BASE_URL", url)]);
        assert_eq!(out.status.code(), Some(0), "{url}: {}", text(&out.stderr));
    }
    let out = worker(
        dir.path(),
        &["check-config"],
        &[
            ("TOKPORTAL__API__BASE_URL", "http://api.example.com/api/ext"),
            ("TOKPORTAL__API__ALLOW_INSECURE", "true"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn a_lower_case_variable_is_reported_under_its_own_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = worker(dir.path(), &["check-config"], &[("tokportal__api__per_page", "500")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("environment variable tokportal__api__per_page"), "{stderr}");

    let out = worker(dir.path(), &["check-config"], &[("tokportal__api__per_page", "42")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("per_page = 42"));

    let out = worker(dir.path(), &["check-config"], &[("tokportal__api__typo", "1")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("api.typo") && text(&out.stderr).contains("tokportal__api__typo"));

    let out = worker(
        dir.path(),
        &["check-config"],
        &[("tokportal__api__per_page", "42"), ("TOKPORTAL__API__PER_PAGE", "50")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("set twice"), "{}", text(&out.stderr));
}

#[test]
fn a_config_flag_naming_a_directory_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = worker(dir.path(), &["--config", ".", "check-config"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is a directory"), "{}", text(&out.stderr));
}

#[test]
fn the_simulator_refuses_an_absurd_number_of_bundles_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = worker(dir.path(), &["sim", "--port", "0", "--bundles", "1000000000000"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("at most 2000000"), "{}", text(&out.stderr));
}

#[test]
fn bad_simulator_keys_or_faults_are_usage_errors_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for (args, named) in [
        (&["sim", "--port", "0", "--keys", "sk_a:lots"][..], "--keys"),
        (&["sim", "--port", "0", "--keys", "sk_a:10:admin"], "--keys"),
        (&["sim", "--port", "0", "--keys", ":10"], "--keys"),
        (&["sim", "--port", "0", "--faults", "{bad"], "--faults"),
        (&["sim", "--port", "0", "--faults", r#"{"no_such_fault":1}"#], "--faults"),
    ] {
        let out = worker(dir.path(), args, &[]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(named), "{args:?}: {stderr}");
        assert!(text(&out.stdout).is_empty(), "{args:?}: no simulator started");
    }
}

#[tokio::test]
async fn the_simulators_admin_insert_refuses_an_absurd_count() {
    let sim = sim::start(SimConfig::default()).await.unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}/data/insert", sim.admin_url());
    let response = client.post(&url).body(r#"{"count":100000000000}"#).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("at most 2000000"));
    let url = format!("{}/data/delete", sim.admin_url());
    let response = client.post(&url).body(r#"{"count":1000000}"#).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(sim.bundle_ids().len(), 137, "nothing inserted or deleted");
    sim.shutdown().await;
}
