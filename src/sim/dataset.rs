//! The bundles the simulator serves, newest first, each with its video slots and
//! account, and each list item kept pre-serialised so list pages are cheap.

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

/// The documented statuses (the seeded dataset also holds one undocumented value).
pub const STATUSES: [&str; 10] = [
    "draft",
    "pending_setup",
    "published",
    "published_priority",
    "accepted",
    "in_review",
    "finalized",
    "completed",
    "cancelled",
    "archived",
];
pub const BUNDLE_TYPES: [&str; 3] = ["account_only", "account_and_videos", "videos_only"];
pub const PLATFORMS: [&str; 2] = ["tiktok", "instagram"];

#[derive(Debug, Clone)]
pub struct Bundle {
    pub id: Uuid,
    fields: Map<String, Value>,
    pub videos: Vec<Value>,
    pub account: Value,
    json: Bytes,
}

impl Bundle {
    /// `fields` is the list item as served; its `id` is set from `id`.
    pub fn new(id: Uuid, mut fields: Map<String, Value>, videos: Vec<Value>, account: Value) -> Self {
        fields.insert("id".into(), Value::String(id.to_string()));
        let mut bundle = Bundle { id, fields, videos, account, json: Bytes::new() };
        bundle.refresh();
        bundle
    }

    fn refresh(&mut self) {
        self.json =
            Bytes::from(serde_json::to_vec(&self.fields).expect("a JSON map with string keys serialises"));
    }

    pub fn str_field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }

    pub fn int_field(&self, name: &str) -> i64 {
        self.fields.get(name).and_then(Value::as_i64).unwrap_or(0)
    }

    pub fn status(&self) -> &str {
        self.str_field("status").unwrap_or_default()
    }

    pub fn set(&mut self, name: &str, value: Value) {
        if name != "id" {
            self.fields.insert(name.to_string(), value);
            self.refresh();
        }
    }

    /// The pre-serialised list item.
    pub fn json(&self) -> &Bytes {
        &self.json
    }

    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }

    /// `GET /bundles/{id}`: the list item with its account and video slots embedded.
    pub fn detail(&self) -> Value {
        let mut fields = self.fields.clone();
        fields.insert("account".into(), self.account.clone());
        fields.insert("videos".into(), Value::Array(self.videos.clone()));
        Value::Object(fields)
    }
}

/// Exact-match filters of `GET /bundles`; `status` may list several values.
#[derive(Debug, Default, Clone)]
pub struct BundleFilter {
    pub status: Option<Vec<String>>,
    pub platform: Option<String>,
    pub bundle_type: Option<String>,
    pub external_ref: Option<String>,
    pub account_status: Option<String>,
}

impl BundleFilter {
    fn matches(&self, bundle: &Bundle) -> bool {
        let eq = |want: &Option<String>, field: &str| {
            want.as_deref().is_none_or(|want| bundle.str_field(field) == Some(want))
        };
        self.status.as_ref().is_none_or(|set| set.iter().any(|s| s == bundle.status()))
            && eq(&self.platform, "platform")
            && eq(&self.bundle_type, "bundle_type")
            && eq(&self.external_ref, "external_ref")
            && eq(&self.account_status, "account_status")
    }
}

#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Newest first: the order `GET /bundles` serves.
    pub bundles: Vec<Bundle>,
}

impl Dataset {
    pub fn find(&self, id: &str) -> Option<&Bundle> {
        let id = Uuid::parse_str(id).ok()?;
        self.bundles.iter().find(|b| b.id == id)
    }

    pub fn find_mut(&mut self, id: &str) -> Option<&mut Bundle> {
        let id = Uuid::parse_str(id).ok()?;
        self.bundles.iter_mut().find(|b| b.id == id)
    }

    /// New bundles are the newest, so they go to the head of every listing.
    pub fn insert_head(&mut self, bundle: Bundle) {
        self.bundles.insert(0, bundle);
    }

    /// Now, or just after the newest bundle if the clock is behind it, so new
    /// bundles always sort first.
    pub fn next_created_at(&self) -> DateTime<Utc> {
        let newest = self
            .bundles
            .first()
            .and_then(|b| b.str_field("created_at"))
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc) + chrono::Duration::seconds(1));
        newest.map_or_else(Utc::now, |n| n.max(Utc::now()))
    }

    pub fn remove(&mut self, id: &str) -> bool {
        let before = self.bundles.len();
        if let Ok(id) = Uuid::parse_str(id) {
            self.bundles.retain(|b| b.id != id);
        }
        self.bundles.len() != before
    }

    /// One page of matching items (pre-serialised) and the total number of matches.
    pub fn page(&self, filter: &BundleFilter, page: u64, per_page: u64) -> (Vec<Bytes>, u64) {
        paginate(self.bundles.iter().filter(|b| filter.matches(b)), page, per_page, |b| b.json().clone())
    }
}

/// One page of `matching` (1-based `page`) as JSON bytes, and how many match in all.
/// Only the items on the page are serialised.
pub fn paginate<T>(
    matching: impl Iterator<Item = T>,
    page: u64,
    per_page: u64,
    to_json: impl Fn(T) -> Bytes,
) -> (Vec<Bytes>, u64) {
    let skip = page.saturating_sub(1).saturating_mul(per_page);
    let mut total = 0u64;
    let mut items = Vec::new();
    for item in matching {
        if total >= skip && (items.len() as u64) < per_page {
            items.push(to_json(item));
        }
        total += 1;
    }
    (items, total)
}
