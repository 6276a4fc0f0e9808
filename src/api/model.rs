//! What the API returns, decoded leniently. The API adds fields and enum
//! values without a version change, so: every typed view travels with the raw
//! JSON it came from (nothing is dropped), enums keep unknown values as
//! `Other`, and anything the API might leave out or null is an `Option`.

use serde::Deserialize;
use serde_json::Value;

/// `{"error": {...}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    pub code: Option<String>,
    pub message: Option<String>,
    #[serde(default)]
    pub details: Value,
}

impl ErrorBody {
    /// `details.retry_after_seconds` of a 429.
    pub fn retry_after_seconds(&self) -> Option<f64> {
        self.details.get("retry_after_seconds")?.as_f64().filter(|s| s.is_finite() && *s >= 0.0)
    }
}

/// `pagination` of a list response. Every field is optional: a list endpoint
/// that does not paginate simply has none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct Pagination {
    pub page: Option<u64>,
    pub per_page: Option<u64>,
    pub total: Option<u64>,
    pub total_pages: Option<u64>,
}

/// One page of a list: `data` stays raw JSON, one value per item.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListPage {
    pub data: Vec<Value>,
    pub pagination: Option<Pagination>,
    /// When the walk asked for it and when its answer came, on the walk's own
    /// clock (`None`: a page read after the one before it was answered).
    #[serde(skip)]
    pub served: Option<Served>,
}

/// Two ticks of a walk's clock: every page asked for and every answer takes
/// the next tick, so a page asked for after another's answer was certainly
/// served after it, and two pages whose ticks interleave were in flight
/// together, served in an order nobody knows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Served {
    pub asked: u64,
    pub answered: u64,
}

impl ListPage {
    /// The page a response body holds, its items moved out of the body, not
    /// copied (a page of 100 items is decoded once, not twice). On an error
    /// the body is handed back whole, for the error's excerpt.
    pub fn from_body(mut body: Value) -> Result<ListPage, (serde_json::Error, Value)> {
        let items = match body.get_mut("data") {
            Some(Value::Array(items)) => std::mem::take(items),
            _ => Vec::new(),
        };
        match ListPage::deserialize(&body) {
            Ok(list) => Ok(ListPage { data: items, ..list }),
            Err(e) => {
                if let Some(Value::Array(emptied)) = body.get_mut("data") {
                    *emptied = items;
                }
                Err((e, body))
            }
        }
    }

    /// The id of every item that has one, in order, duplicates included: what
    /// a walk's seen set is asked about before the cursor takes the page in.
    pub fn ids(&self) -> Vec<String> {
        self.data.iter().filter_map(item_id).collect()
    }
}

/// The id of an item, as a string whatever its JSON type (UUID strings today).
pub fn item_id(item: &Value) -> Option<String> {
    match item.get("id")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A typed view with the JSON it was decoded from.
#[derive(Debug, Clone, PartialEq)]
pub struct Typed<T> {
    pub view: T,
    pub raw: Value,
}

impl<T: serde::de::DeserializeOwned> Typed<T> {
    pub fn decode(raw: Value) -> Result<Typed<T>, serde_json::Error> {
        Ok(Typed { view: T::deserialize(&raw)?, raw })
    }
}

/// Declares an enum that accepts any string: known values get a variant,
/// anything else is kept in `Other`.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
        #[serde(from = "String")]
        pub enum $name { $($variant,)+ Other(String) }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() { $($text => $name::$variant,)+ _ => $name::Other(s) }
            }
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self { $($name::$variant => $text,)+ $name::Other(s) => s }
            }
        }
    };
}

open_enum!(
    /// Bundle lifecycle status.
    BundleStatus {
        Draft = "draft",
        PendingSetup = "pending_setup",
        Published = "published",
        PublishedPriority = "published_priority",
        Accepted = "accepted",
        InReview = "in_review",
        Finalized = "finalized",
        Completed = "completed",
        Cancelled = "cancelled",
        Archived = "archived",
    }
);

open_enum!(BundleType {
    AccountOnly = "account_only",
    AccountAndVideos = "account_and_videos",
    VideosOnly = "videos_only",
});

open_enum!(Platform { Tiktok = "tiktok", Instagram = "instagram" });

/// The fields of a bundle the worker reads; the rest stays in `Typed::raw`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Bundle {
    pub id: String,
    pub status: Option<BundleStatus>,
    pub bundle_type: Option<BundleType>,
    pub platform: Option<Platform>,
    pub country: Option<String>,
    pub title: Option<String>,
    pub external_ref: Option<String>,
    pub videos_quantity: Option<i64>,
    pub saved_account_id: Option<String>,
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bundle_with_unknown_fields_and_values_and_nulls_decodes_and_keeps_everything() {
        let raw = json!({
            "id": "b1", "status": "on_hold", "bundle_type": "videos_only", "platform": "tiktok",
            "country": "USA", "title": null, "external_ref": null, "computed": {"x": 1},
            "created_at": "2026-11-28T10:00:00Z"
        });
        let bundle = Typed::<Bundle>::decode(raw.clone()).unwrap();
        assert_eq!(bundle.view.status, Some(BundleStatus::Other("on_hold".into())));
        assert_eq!(bundle.view.bundle_type, Some(BundleType::VideosOnly));
        assert_eq!(bundle.view.title, None);
        assert_eq!(bundle.raw, raw);
    }

    #[test]
    fn a_list_page_without_pagination_is_one_page() {
        let page: ListPage = serde_json::from_value(json!({"data": [{"id": 7}], "extra": true})).unwrap();
        let moved = ListPage::from_body(json!({"data": [{"id": 7}], "extra": true})).unwrap();
        assert_eq!(moved.data, page.data);
        assert_eq!(page.pagination, None);
        assert_eq!(item_id(&page.data[0]).as_deref(), Some("7"));
    }
}
