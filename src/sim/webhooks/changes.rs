//! Which events a change of one bundle emits, from what it was before and
//! what it is after. Bundle events exist only for created, published,
//! cancelled and archived (the reference); every other change of the list
//! item (another status, a title, a deletion) emits nothing, which is why a
//! client still needs its periodic walk. Slot and account changes emit
//! `video.*` and `account.*` events naming `bundle_id` (assumed names).

use serde_json::{Map, Value, json};

use crate::sim::bundle::Bundle;
use crate::sim::children::Owned;

/// The statuses whose arrival emits `bundle.<status>`.
pub const BUNDLE_EVENT_STATUSES: [&str; 3] = ["published", "cancelled", "archived"];

/// One event to emit: its type, the bundle it is about and its `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub kind: String,
    pub bundle_id: String,
    pub data: Value,
}

/// A bundle as it was before a change (taken only while an endpoint exists).
#[derive(Debug, Clone)]
pub struct Before {
    status: String,
    children: Owned,
}

impl Before {
    pub fn of(bundle: &Bundle) -> Self {
        Before { status: bundle.status(), children: bundle.children() }
    }
}

/// `bundle.created`, with the new bundle as `data` (its id in `data.id`).
pub fn created(bundle: &Bundle) -> Change {
    Change { kind: "bundle.created".into(), bundle_id: bundle.id.to_string(), data: bundle.detail() }
}

/// The events of a change, in this order: the bundle's, its slots' by position, its account's.
pub fn changed(before: &Before, after: &Bundle) -> Vec<Change> {
    let id = after.id.to_string();
    let mut out = Vec::new();
    let status = after.status();
    if status != before.status && BUNDLE_EVENT_STATUSES.contains(&status.as_str()) {
        out.push(Change { kind: format!("bundle.{status}"), bundle_id: id.clone(), data: after.detail() });
    }
    let Owned { videos, account } = after.children();
    let (old, new) = (&before.children.videos, &videos);
    for index in 0..old.len().max(new.len()) {
        let kind = match (old.get(index), new.get(index)) {
            (Some(a), Some(b)) if a == b => continue,
            (Some(a), Some(b)) if b["status"] == "published" && a["status"] != "published" => {
                "video.published"
            }
            (Some(_), Some(_)) => "video.updated",
            (None, Some(_)) => "video.created",
            (Some(_), None) => "video.deleted",
            (None, None) => continue,
        };
        let mut data = object(new.get(index));
        data.insert("position".into(), json!(index + 1));
        data.insert("bundle_id".into(), json!(id));
        out.push(Change { kind: kind.into(), bundle_id: id.clone(), data: Value::Object(data) });
    }
    if account != before.children.account {
        let banned = account["status"] == "banned" && before.children.account["status"] != "banned";
        let kind = if banned { "account.banned" } else { "account.updated" };
        let mut data = object(Some(&account));
        data.insert("bundle_id".into(), json!(id));
        out.push(Change { kind: kind.into(), bundle_id: id, data: Value::Object(data) });
    }
    out
}

fn object(value: Option<&Value>) -> Map<String, Value> {
    value.and_then(Value::as_object).cloned().unwrap_or_default()
}
