//! Account bans (`GET /account-bans`): one per ban an account received, kept
//! after it is resolved. `updated_at` (milliseconds) moves with every change,
//! which is what `since` selects on.

use chrono::DateTime;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::clock::{timestamp_millis, timestamp_secs};
use super::table::{self, Overlay, Record};

pub const BAN_STATUSES: [&str; 3] = ["open", "under_review", "resolved"];
pub const RESOLUTIONS: [&str; 3] = ["reinstated", "replaced", "refunded"];
pub const REASONS: [&str; 5] = [
    "Community guidelines: spam",
    "Suspicious login activity",
    "Impersonation report",
    "Automated behaviour detected",
    "Violation — \"repeated\" reposts",
];

#[derive(Debug, Clone)]
pub struct Ban {
    pub id: Uuid,
    pub account_id: Uuid,
    pub status: &'static str,
    pub resolution: Option<&'static str>,
    pub reason: &'static str,
    /// Unix seconds.
    pub banned_at: i64,
    pub created_at: i64,
    /// Unix milliseconds; bumped by every change.
    pub updated_at: i64,
    pub overlay: Overlay,
}

impl Record for Ban {
    fn id(&self) -> Uuid {
        self.id
    }
}

impl Ban {
    pub fn item(&self, screenshots: bool) -> Value {
        let mut item = Map::new();
        item.insert("id".into(), json!(self.id.to_string()));
        item.insert("account_id".into(), json!(self.account_id.to_string()));
        item.insert("status".into(), json!(self.status));
        item.insert("resolution".into(), json!(self.resolution));
        item.insert("reason".into(), json!(self.reason));
        item.insert("banned_at".into(), json!(timestamp_secs(self.banned_at)));
        item.insert("created_at".into(), json!(timestamp_secs(self.created_at)));
        item.insert("updated_at".into(), json!(timestamp_millis(self.updated_at)));
        if screenshots {
            let url = format!("https://cdn.example.test/bans/{}/1.png", self.id);
            item.insert("screenshots".into(), json!([url]));
        }
        table::apply(item, &self.overlay)
    }

    /// Sets fields (not `id` nor `updated_at`) and bumps `updated_at` to `now_ms`.
    pub fn set(&mut self, set: &Map<String, Value>, now_ms: i64) {
        table::set_over(&mut self.overlay, set, &["id", "updated_at"]);
        self.updated_at = self.updated_at.max(now_ms);
    }

    /// The status the item shows (the overlay's, if a change set one).
    pub fn status(&self) -> Option<&str> {
        match self.overlay.as_ref().and_then(|o| o.get("status")) {
            Some(status) => status.as_str(),
            None => Some(self.status),
        }
    }

    pub fn resolution(&self) -> Option<&str> {
        match self.overlay.as_ref().and_then(|o| o.get("resolution")) {
            Some(resolution) => resolution.as_str(),
            None => self.resolution,
        }
    }
}

/// Filters of `GET /account-bans`; an unknown value matches nothing.
#[derive(Debug, Default, Clone)]
pub struct BanFilter {
    /// One value or several, comma-separated.
    pub status: Option<Vec<String>>,
    pub resolution: Option<String>,
    pub account_id: Option<String>,
    /// Unix milliseconds: only bans whose `updated_at` is at or after it.
    pub since: Option<i64>,
}

impl BanFilter {
    pub fn matches(&self, ban: &Ban) -> bool {
        let account = ban.account_id.to_string();
        self.status.as_ref().is_none_or(|s| ban.status().is_some_and(|b| s.iter().any(|w| w == b)))
            && self.resolution.as_deref().is_none_or(|r| ban.resolution() == Some(r))
            && self
                .account_id
                .as_deref()
                .is_none_or(|a| table::is(&ban.overlay, "account_id", Some(&account), a))
            && self.since.is_none_or(|since| ban.updated_at >= since)
    }
}

/// `since` as RFC 3339, to unix milliseconds; `None` if it is not RFC 3339.
pub fn parse_since(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text.trim()).ok().map(|t| t.timestamp_millis())
}
