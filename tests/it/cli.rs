//! The `worker` binary's command-line contract: exit status 2 naming the bad
//! key, redacted `check-config` output; the folder `cli/` holds the rest
//! (exit statuses, messages, JSON outputs, a closed pipe, help text).

use crate::helpers::{text, worker};

#[test]
fn check_config_prints_the_effective_config_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let out = worker(dir.path(), &["check-config"], &[("TOKPORTAL__API__PER_PAGE", "42")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("per_page = 42"), "{stdout}");
    assert!(stdout.contains("schedule = \"0 */15 * * * *\""), "{stdout}");
}

#[test]
fn without_any_config_file_the_built_in_defaults_apply() {
    let dir = tempfile::tempdir().unwrap();
    let out = worker(dir.path(), &["check-config"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("# config file: none"), "{stdout}");
    assert!(stdout.contains("base_url = \"https://app.tokportal.com/api/ext\""), "{stdout}");
    let defaults = r#"streams = ["bundles", "bundle_videos", "bundle_accounts", "accounts", "account_bans"]"#;
    assert!(stdout.contains(defaults), "{stdout}");
}

#[test]
fn a_config_toml_in_the_working_directory_is_read_by_default() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), "[api]\nburst = 7\n").unwrap();
    let out = worker(dir.path(), &["check-config"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("# config file: config.toml") && stdout.contains("burst = 7"), "{stdout}");
}

#[test]
fn an_out_of_range_per_page_exits_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = worker(dir.path(), &["check-config"], &[("TOKPORTAL__API__PER_PAGE", "500")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("api.per_page") && stderr.contains("TOKPORTAL__API__PER_PAGE"), "{stderr}");
}

#[test]
fn a_typo_in_config_toml_exits_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), "[sync]\nschedul = \"0 * * * * *\"\n").unwrap();
    let out = worker(dir.path(), &["check-config"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("sync.schedul") && stderr.contains("config.toml"), "{stderr}");
}

#[test]
fn a_missing_explicit_config_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = worker(dir.path(), &["--config", "missing.toml", "check-config"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("missing.toml"));
}

#[test]
fn check_config_never_prints_the_api_key() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        worker(dir.path(), &["check-config"], &[("TOKPORTAL_API_KEY", "sk_secret"), ("RUST_LOG", "trace")]);
    assert_eq!(out.status.code(), Some(0));
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!all.contains("sk_secret"), "{all}");
    assert!(all.contains("fingerprint"), "{all}");
}

#[test]
fn help_states_every_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let out = worker(dir.path(), &["--help"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let help = text(&out.stdout);
    for status in [
        "0  done",
        "1  the work could not be completed",
        "2  configuration or usage error",
        "3  the API refused the key",
    ] {
        assert!(help.contains(status), "{status:?} in {help}");
    }
}

mod exits;
mod help;
mod messages;
mod outputs;
mod pipe;
mod support;
