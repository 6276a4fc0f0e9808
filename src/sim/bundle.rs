//! One bundle as the simulator keeps it: the list item pre-serialised (what a
//! page copies, so no JSON is encoded per request), the keys the lists sort and
//! filter on, and its children (see [`super::children`]). About 0.6 KB a bundle.

use chrono::DateTime;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::children::{Children, Owned};
use super::vocab::NO_SYMBOL;

/// What a new bundle is made of, before the dataset gives it its keys.
#[derive(Debug, Clone)]
pub struct Draft {
    pub id: Uuid,
    /// The list item; its `id` is set from `id`.
    pub fields: Map<String, Value>,
    pub children: Children,
}

#[derive(Debug, Clone)]
pub struct Bundle {
    pub id: Uuid,
    json: Box<str>,
    /// `created_at` in microseconds since the epoch (`i64::MIN`, the oldest,
    /// when absent or not RFC 3339): the key of the `created_at` orders.
    created_at: i64,
    /// Interned values of [`FILTER_FIELDS`](super::vocab::FILTER_FIELDS) (set by the dataset).
    pub(super) keys: [u32; 5],
    children: Children,
}

/// `created_at` of a list item as a sort key.
pub fn created_at_key(fields: &Map<String, Value>) -> i64 {
    fields
        .get("created_at")
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or(i64::MIN, |t| t.timestamp_micros())
}

impl Bundle {
    pub(super) fn new(draft: Draft) -> Self {
        let Draft { id, mut fields, children } = draft;
        fields.insert("id".into(), Value::String(id.to_string()));
        let mut bundle =
            Bundle { id, json: Box::default(), created_at: i64::MIN, keys: [NO_SYMBOL; 5], children };
        bundle.store(&fields);
        bundle
    }

    fn store(&mut self, fields: &Map<String, Value>) {
        self.json =
            serde_json::to_string(fields).expect("a JSON map with string keys serialises").into_boxed_str();
        self.created_at = created_at_key(fields);
    }

    /// The list item, parsed.
    pub fn fields(&self) -> Map<String, Value> {
        serde_json::from_str(&self.json).unwrap_or_default()
    }

    pub fn str_field(&self, name: &str) -> Option<String> {
        self.fields().get(name).and_then(Value::as_str).map(str::to_string)
    }

    pub fn int_field(&self, name: &str) -> i64 {
        self.fields().get(name).and_then(Value::as_i64).unwrap_or(0)
    }

    pub fn status(&self) -> String {
        self.str_field("status").unwrap_or_default()
    }

    /// Sets one field of the list item (not `id`).
    pub fn set(&mut self, name: &str, value: Value) {
        self.set_all(&Map::from_iter([(name.to_string(), value)]));
    }

    /// Sets fields of the list item (all but `id`).
    pub fn set_all(&mut self, set: &Map<String, Value>) {
        let mut fields = self.fields();
        for (name, value) in set.iter().filter(|(name, _)| *name != "id") {
            fields.insert(name.clone(), value.clone());
        }
        self.store(&fields);
    }

    /// The pre-serialised list item.
    pub fn json(&self) -> &str {
        &self.json
    }

    pub fn created_at(&self) -> i64 {
        self.created_at
    }

    /// `data` of `GET /bundles/{id}/videos`.
    pub fn videos(&self) -> Vec<Value> {
        self.children.get(self.id).videos
    }

    /// `data` of `GET /bundles/{id}/account`.
    pub fn account(&self) -> Value {
        self.children.get(self.id).account
    }

    /// Slots and account together (generated once, where the two getters generate twice).
    pub fn children(&self) -> Owned {
        self.children.get(self.id)
    }

    /// The children, stored from now on so they can be changed.
    pub fn children_mut(&mut self) -> &mut Owned {
        self.children.get_mut(self.id)
    }

    /// `GET /bundles/{id}`: the list item with its account and video slots embedded.
    pub fn detail(&self) -> Value {
        let mut fields = self.fields();
        let Owned { videos, account } = self.children.get(self.id);
        fields.insert("account".into(), account);
        fields.insert("videos".into(), Value::Array(videos));
        Value::Object(fields)
    }
}
