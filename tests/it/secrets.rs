//! The API key and the database password never reach Debug output, error
//! text, `check-config` output or log lines.

use std::sync::{Arc, Mutex};

use tokportal_sync::config::{Config, LogFormat};
use tokportal_sync::{secret, telemetry};

use crate::helpers::env;

const KEY: &str = "sk_0123456789abcdef_secret_key";
const PASSWORD: &str = "hunter2-db-password";

fn loaded() -> Config {
    Config::load_from(
        None,
        &env(&[
            ("TOKPORTAL_API_KEY", KEY),
            ("DATABASE_URL", &format!("postgres://app:{PASSWORD}@db.internal:5432/app?sslmode=require")),
        ]),
    )
    .unwrap()
}

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(KEY), "{what} shows the API key: {text}");
    assert!(!text.contains(PASSWORD), "{what} shows the database password: {text}");
}

#[test]
fn debug_output_of_the_config_hides_both_secrets() {
    assert_clean("Debug", &format!("{:?}", loaded()));
    assert_clean("pretty Debug", &format!("{:#?}", loaded()));
}

#[test]
fn check_config_output_shows_a_fingerprint_and_a_masked_url() {
    let cfg = loaded();
    let out = cfg.redacted_toml();
    assert_clean("redacted_toml", &out);
    let fp = secret::fingerprint(cfg.api.key.as_ref().unwrap());
    assert_eq!(fp.len(), 16);
    assert!(out.contains(&fp), "{out}");
    assert!(out.contains("postgres://app:***@db.internal:5432/app"), "{out}");
}

#[test]
fn a_password_in_the_query_string_is_masked_too() {
    let url = secrecy::SecretString::from(format!("postgres://db/app?user=app&password={PASSWORD}"));
    let shown = secret::redact_database_url(&url);
    assert_clean("redact_database_url", &shown);
    assert!(shown.contains("user=app"), "{shown}");
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn logging_the_config_in_either_format_shows_no_secret() {
    for format in [LogFormat::Pretty, LogFormat::Json] {
        let sink = Captured::default();
        let writer = sink.clone();
        let sub = telemetry::subscriber(format, "trace", move || writer.clone());
        tracing::subscriber::with_default(sub, || {
            let cfg = loaded();
            tracing::info!(config = ?cfg, api_key = ?cfg.api.key, "loaded configuration");
        });
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("loaded configuration"), "nothing was logged: {text}");
        assert_clean("log output", &text);
    }
}

#[tokio::test]
async fn a_failed_database_connection_does_not_echo_the_password() {
    let cfg = Config::load_from(
        None,
        &env(&[
            ("DATABASE_URL", &format!("postgres://app:{PASSWORD}@127.0.0.1:1/app")),
            ("TOKPORTAL__DATABASE__CONNECT_TIMEOUT_SECS", "1"),
        ]),
    )
    .unwrap();
    let err = tokportal_sync::db::connect(&cfg.database).await.unwrap_err();
    let text = format!("{err:#} / {err:?}");
    assert!(text.contains("127.0.0.1"), "{text}");
    assert_clean("connection error", &text);
}
