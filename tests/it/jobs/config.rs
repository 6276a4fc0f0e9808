//! `[jobs]` refused at load when it could send a job after the API forgot
//! its key: a key lifetime beyond the API's 24 h, an expiry margin without
//! room for the lease, the longest send and the clocks' skew.

use std::time::Duration;

use tokportal_sync::config::{Config, ConfigError};

use crate::helpers::{env, text, worker};

fn refused(vars: &[(&str, &str)], key: &str) -> String {
    match Config::load_from(None, &env(vars)) {
        Err(ConfigError::Invalid { key: named, message, .. }) if named == key => message,
        other => panic!("{vars:?}: expected {key} refused, got {other:?}"),
    }
}

fn exits_2_naming(vars: &[(&str, &str)], key: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = worker(dir.path(), &["check-config"], vars);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{vars:?}: {stderr}");
    assert!(stderr.contains(key), "{vars:?}: {stderr}");
}

#[test]
fn a_key_lifetime_beyond_the_apis_24_hours_is_refused_exiting_2() {
    let cfg = Config::load_from(None, &env(&[("TOKPORTAL__JOBS__KEY_LIFETIME_SECS", "86400")])).unwrap();
    assert_eq!(cfg.jobs.key_lifetime, Duration::from_secs(86_400));
    let message = refused(&[("TOKPORTAL__JOBS__KEY_LIFETIME_SECS", "86401")], "jobs.key_lifetime_secs");
    assert!(message.contains("24 h"), "{message}");
    exits_2_naming(&[("TOKPORTAL__JOBS__KEY_LIFETIME_SECS", "172800")], "jobs.key_lifetime_secs");
}

#[test]
fn an_expiry_margin_without_room_for_the_lease_a_send_and_clock_skew_is_refused_exiting_2() {
    // Defaults: lease 10 s, timeout 30 s, budget wait 300 s, skew 300 s: at least 640 s.
    let cfg = Config::load_from(None, &env(&[("TOKPORTAL__JOBS__EXPIRY_MARGIN_SECS", "640")])).unwrap();
    assert_eq!(cfg.jobs.expiry_margin, Duration::from_secs(640));
    let message = refused(&[("TOKPORTAL__JOBS__EXPIRY_MARGIN_SECS", "639")], "jobs.expiry_margin_secs");
    assert!(message.contains("jobs.lease_secs") && message.contains("640"), "{message}");
    // A longer lease needs a wider margin.
    let longer = [("TOKPORTAL__JOBS__EXPIRY_MARGIN_SECS", "700"), ("TOKPORTAL__JOBS__LEASE_SECS", "100")];
    refused(&longer, "jobs.expiry_margin_secs");
    exits_2_naming(&[("TOKPORTAL__JOBS__EXPIRY_MARGIN_SECS", "1")], "jobs.expiry_margin_secs");
}

#[test]
fn a_lease_is_short_by_default_and_at_least_a_second() {
    let cfg = Config::load_from(None, &env(&[])).unwrap();
    assert_eq!(cfg.jobs.lease, Duration::from_secs(10), "a dead worker's claim ends within seconds");
    // It no longer has to outlast a send: the heartbeat keeps a live send's claim.
    let short = Config::load_from(None, &env(&[("TOKPORTAL__JOBS__LEASE_SECS", "2")])).unwrap();
    assert_eq!(short.jobs.lease, Duration::from_secs(2));
    refused(&[("TOKPORTAL__JOBS__LEASE_SECS", "0.5")], "jobs.lease_secs");
}
