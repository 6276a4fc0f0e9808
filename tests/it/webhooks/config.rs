//! The `[webhooks]` keys: validated (exit 2 naming the key), and the
//! refresher's defaults are the keys' defaults; the signing secrets, from
//! the variable or the file, never shown.

use secrecy::ExposeSecret;
use tokportal_sync::config::{Config, webhook_secrets_from_env};
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

fn exposed(vars: &[(&str, &str)]) -> Result<Vec<String>, String> {
    webhook_secrets_from_env(&env(vars))
        .map(|s| s.iter().map(|s| s.expose_secret().to_string()).collect())
        .map_err(|e| e.to_string())
}

#[test]
fn the_secrets_come_from_the_variable_or_the_file_comma_separated() {
    assert_eq!(
        exposed(&[("TOKPORTAL_WEBHOOK_SECRET", "whsec_old, whsec_new")]),
        Ok(vec!["whsec_old".to_string(), "whsec_new".to_string()])
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("webhook-secret");
    std::fs::write(&file, "whsec_from_file,whsec_next\n").unwrap();
    let path = file.to_str().unwrap();
    assert_eq!(
        exposed(&[("TOKPORTAL_WEBHOOK_SECRET_FILE", path)]),
        Ok(vec!["whsec_from_file".to_string(), "whsec_next".to_string()])
    );
    assert_eq!(exposed(&[]), Ok(vec![]), "none configured: every delivery is refused");
    std::fs::write(&file, " , \n").unwrap();
    let empty = exposed(&[("TOKPORTAL_WEBHOOK_SECRET_FILE", path)]).unwrap_err();
    assert!(empty.contains("TOKPORTAL_WEBHOOK_SECRET_FILE") && empty.contains("holds no secret"), "{empty}");
    let missing = dir.path().join("absent");
    let unreadable = exposed(&[("TOKPORTAL_WEBHOOK_SECRET_FILE", missing.to_str().unwrap())]).unwrap_err();
    assert!(unreadable.contains("cannot read"), "{unreadable}");
}

#[test]
fn both_the_variable_and_the_file_exit_2_without_showing_either_secret() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("webhook-secret");
    std::fs::write(&file, "whsec_in_the_file").unwrap();
    let (code, stdout, stderr) = check_config(&[
        ("TOKPORTAL_WEBHOOK_SECRET", "whsec_in_the_variable"),
        ("TOKPORTAL_WEBHOOK_SECRET_FILE", file.to_str().unwrap()),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("not both"), "{stderr}");
    for secret in ["whsec_in_the_file", "whsec_in_the_variable"] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret), "{secret} shown:\n{stdout}\n{stderr}");
    }
}

#[test]
fn check_config_never_shows_a_webhook_secret() {
    let (code, stdout, stderr) =
        check_config(&[("TOKPORTAL_WEBHOOK_SECRET", "whsec_keep_me_hidden,whsec_other")]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stdout.contains("whsec_") && !stderr.contains("whsec_"), "{stdout}\n{stderr}");
}
