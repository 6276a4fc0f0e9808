//! `sync.walk_share`: the share of the budget continuous mode's list walks
//! take while children wait; a share more than 0 and at most 1, refused
//! otherwise with the key named (exit 2 from every command).

use tokportal_sync::config::{Config, ConfigError, DEFAULT_WALK_SHARE};

use crate::helpers::env;

#[test]
fn sync_walk_share_is_a_share_more_than_0_and_at_most_1_and_anything_else_exits_2_naming_the_key() {
    let cfg = Config::load_from(None, &env(&[])).unwrap();
    assert_eq!(cfg.sync.walk_share, DEFAULT_WALK_SHARE);
    for good in ["0.95", "1", "0.01"] {
        let cfg = Config::load_from(
            None,
            &env(&[("TOKPORTAL__SYNC__SCHEDULE", "continuous"), ("TOKPORTAL__SYNC__WALK_SHARE", good)]),
        )
        .unwrap();
        assert_eq!(cfg.sync.walk_share, good.parse::<f64>().unwrap());
    }
    // Checked with a cron schedule too, where it is not used.
    for bad in ["0", "-0.5", "1.01", "NaN", "inf"] {
        let err = Config::load_from(None, &env(&[("TOKPORTAL__SYNC__WALK_SHARE", bad)])).unwrap_err();
        assert!(matches!(&err, ConfigError::Invalid { key, .. } if key == "sync.walk_share"), "{bad}: {err}");
        assert!(err.to_string().contains("more than 0 and at most 1"), "{bad}: {err}");
    }

    let dir = tempfile::tempdir().unwrap();
    let out = crate::helpers::worker(dir.path(), &["check-config"], &[("TOKPORTAL__SYNC__WALK_SHARE", "2")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = crate::helpers::text(&out.stderr);
    assert!(stderr.contains("sync.walk_share") && stderr.contains("got 2"), "{stderr}");
}
