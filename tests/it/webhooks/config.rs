//! The `[webhooks]` keys: validated (exit 2 naming the key), and the
//! refresher's defaults are the keys' defaults.

use tokportal_sync::config::Config;
use tokportal_sync::webhooks::Limits;

use crate::helpers::{env, text, worker};

fn check_config(vars: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = worker(dir.path(), &["check-config"], vars);
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn max_attempts_outside_1_to_100_exits_2_naming_the_key() {
    for bad in ["0", "101", "-3"] {
        let (code, _, stderr) = check_config(&[("TOKPORTAL__WEBHOOKS__MAX_ATTEMPTS", bad)]);
        assert_eq!(code, Some(2), "{bad}: {stderr}");
        assert!(stderr.contains("webhooks.max_attempts") && stderr.contains("between 1 and 100"), "{stderr}");
    }
    let (code, stdout, stderr) = check_config(&[("TOKPORTAL__WEBHOOKS__MAX_ATTEMPTS", "3")]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("max_attempts = 3"), "{stdout}");
}

#[test]
fn retention_days_below_1_exits_2_naming_the_key() {
    for bad in ["0", "-1"] {
        let (code, _, stderr) = check_config(&[("TOKPORTAL__WEBHOOKS__RETENTION_DAYS", bad)]);
        assert_eq!(code, Some(2), "{bad}: {stderr}");
        assert!(stderr.contains("webhooks.retention_days"), "{stderr}");
    }
}

#[test]
fn the_refresher_s_default_limits_are_the_keys_defaults() {
    let config = Config::load_from(None, &env(&[])).unwrap();
    assert_eq!(Limits::from(&config.webhooks), Limits::default());
}
