//! Comment tasks (`GET /comments`, `GET /comments/{id}`): a comment to post
//! from one saved account under a post, moving through its statuses;
//! `updated_at` (milliseconds) moves with every change.

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::clock::{timestamp_millis, timestamp_secs};
use super::table::{self, Overlay, Record};

pub const COMMENT_STATUSES: [&str; 6] =
    ["pending", "in_progress", "posted", "verified", "disputed", "cancelled"];

const TEXTS: [&str; 6] = [
    "Love this! 🔥",
    "Where did you get that jacket?",
    "C'est magnifique — bravo",
    "「最高」です",
    "He said \"wow\"",
    "first\nsecond line",
];

#[derive(Debug, Clone)]
pub struct Comment {
    pub id: Uuid,
    pub saved_account_id: Uuid,
    pub status: &'static str,
    /// The commented post: its URL is built from the platform and this number.
    pub platform: &'static str,
    pub post: u64,
    text: u8,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix milliseconds; bumped by every change.
    pub updated_at: i64,
    pub overlay: Overlay,
}

impl Record for Comment {
    fn id(&self) -> Uuid {
        self.id
    }
}

impl Comment {
    pub fn new(id: Uuid, saved_account_id: Uuid, platform: &'static str, draw: u64, created_at: i64) -> Self {
        Comment {
            id,
            saved_account_id,
            status: "pending",
            platform,
            post: draw % 10_000_000_000,
            text: (draw % TEXTS.len() as u64) as u8,
            created_at,
            updated_at: created_at * 1000,
            overlay: None,
        }
    }

    pub fn item(&self) -> Value {
        let post_url = match self.platform {
            "instagram" => format!("https://www.instagram.com/p/C{}/", self.post),
            _ => format!("https://www.tiktok.com/@creator/video/{}", 7_300_000_000_000_000_000 + self.post),
        };
        let mut item = Map::new();
        item.insert("id".into(), json!(self.id.to_string()));
        item.insert("saved_account_id".into(), json!(self.saved_account_id.to_string()));
        item.insert("status".into(), json!(self.status));
        item.insert("post_url".into(), json!(post_url));
        item.insert("text".into(), json!(TEXTS[usize::from(self.text)]));
        item.insert("created_at".into(), json!(timestamp_secs(self.created_at)));
        item.insert("updated_at".into(), json!(timestamp_millis(self.updated_at)));
        table::apply(item, &self.overlay)
    }

    /// Sets fields (not `id` nor `updated_at`) and bumps `updated_at` to `now_ms`.
    pub fn set(&mut self, set: &Map<String, Value>, now_ms: i64) {
        table::set_over(&mut self.overlay, set, &["id", "updated_at"]);
        self.updated_at = self.updated_at.max(now_ms);
    }

    pub fn status(&self) -> Option<&str> {
        match self.overlay.as_ref().and_then(|o| o.get("status")) {
            Some(status) => status.as_str(),
            None => Some(self.status),
        }
    }
}

/// Filters of `GET /comments`.
#[derive(Debug, Default, Clone)]
pub struct CommentFilter {
    /// One value or several, comma-separated.
    pub status: Option<Vec<String>>,
    pub saved_account_id: Option<String>,
}

impl CommentFilter {
    pub fn matches(&self, comment: &Comment) -> bool {
        let account = comment.saved_account_id.to_string();
        self.status.as_ref().is_none_or(|s| comment.status().is_some_and(|c| s.iter().any(|w| w == c)))
            && self
                .saved_account_id
                .as_deref()
                .is_none_or(|a| table::is(&comment.overlay, "saved_account_id", Some(&account), a))
    }
}
