//! One bundle as the simulator keeps it: the list item pre-serialised (what a
//! page copies, so no JSON is encoded per request), the keys the lists sort and
//! filter on, and its children (see [`super::children`]). About 0.6 KB a bundle.

use chrono::DateTime;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::children::{Children, Owned};
use super::saved::pool::username_of;
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
        self.children().account
    }

    /// Slots and account together (generated once, where the two getters generate twice).
    pub fn children(&self) -> Owned {
        let mut owned = self.children.get(self.id);
        if !self.children.is_stored() {
            self.link(&mut owned.account, || self.fields());
        }
        owned
    }

    /// The children, stored from now on so they can be changed.
    pub fn children_mut(&mut self) -> &mut Owned {
        if !self.children.is_stored() {
            let linked = self.children();
            *self.children.get_mut(self.id) = linked;
        }
        self.children.get_mut(self.id)
    }

    /// A delivered account as generated names the id the bundle drew: it
    /// takes the list item's `saved_account_id` instead (a pool account's,
    /// see [`Pool::for_bundle`](super::saved::pool::Pool::for_bundle)), and that
    /// account's username.
    fn link(&self, account: &mut Value, fields: impl FnOnce() -> Map<String, Value>) {
        if account.get("saved_account_id").is_none_or(Value::is_null) {
            return;
        }
        let saved = fields().remove("saved_account_id").unwrap_or(Value::Null);
        if let Some(id) = saved.as_str().and_then(|s| Uuid::parse_str(s).ok()) {
            account["username"] = Value::String(username_of(&id));
        }
        account["saved_account_id"] = saved;
    }

    /// `GET /bundles/{id}`: the list item with its account and video slots embedded.
    pub fn detail(&self) -> Value {
        let mut fields = self.fields();
        let Owned { videos, mut account } = self.children.get(self.id);
        if !self.children.is_stored() {
            self.link(&mut account, || fields.clone());
        }
        fields.insert("account".into(), account);
        fields.insert("videos".into(), Value::Array(videos));
        Value::Object(fields)
    }
}
