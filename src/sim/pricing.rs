//! What things cost in the simulator (the real price list is not public): an
//! account 10 credits, each video slot 2, each edit slot 1.

use serde_json::{Value, json};

use super::seed::BundleSpec;

pub const ACCOUNT: i64 = 10;
pub const VIDEO_SLOT: i64 = 2;
pub const EDIT_SLOT: i64 = 1;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    pub account: i64,
    pub videos: i64,
    pub edits: i64,
}

impl Cost {
    pub fn of(spec: &BundleSpec) -> Self {
        let account = if spec.bundle_type == "videos_only" { 0 } else { ACCOUNT };
        Cost { account, videos: spec.videos_quantity * VIDEO_SLOT, edits: spec.edits_quantity * EDIT_SLOT }
    }

    pub fn times(self, n: i64) -> Self {
        Cost { account: self.account * n, videos: self.videos * n, edits: self.edits * n }
    }

    pub fn total(self) -> i64 {
        self.account + self.videos + self.edits
    }

    pub fn breakdown(self) -> Value {
        json!({ "account": self.account, "videos": self.videos, "edits": self.edits, "total": self.total() })
    }
}
