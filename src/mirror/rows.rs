//! What the mirror makes of an item before writing it: its id, its typed
//! column values, an excerpt for an error; and what an upsert did ([`Upserted`]).

use serde_json::Value;

use super::streams::Kind;

/// What one upsert did. `unchanged` rows were not written at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Upserted {
    pub inserted: u64,
    pub updated: u64,
    /// Rows marked deleted that came back unchanged.
    pub revived: u64,
    pub unchanged: u64,
}

/// An item the mirror cannot store: no usable `id`.
#[derive(Debug, thiserror::Error)]
#[error("item {index} of the page has no string or number `id`: {excerpt}")]
pub struct NoId {
    pub index: usize,
    pub excerpt: String,
}

/// The id of an item, as a string whatever its JSON type.
pub fn id_of(item: &Value) -> Option<String> {
    crate::api::model::item_id(item)
}

/// A typed column's value as text Postgres casts without failing: a
/// timestamp that does not parse, or a number that is not one, is NULL.
pub fn typed(value: Option<&Value>, kind: Kind) -> Option<String> {
    match (kind, value?) {
        (_, Value::Null) => None,
        (Kind::Text, Value::String(s)) => Some(s.clone()),
        (Kind::Text, v @ (Value::Number(_) | Value::Bool(_))) => Some(v.to_string()),
        (Kind::Timestamp, Value::String(s)) => {
            chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.to_rfc3339())
        }
        (Kind::Numeric, Value::Number(n)) => Some(n.to_string()),
        (Kind::Numeric, Value::String(s)) => {
            s.parse::<f64>().ok().filter(|f| f.is_finite()).map(|_| s.clone())
        }
        (Kind::Boolean, Value::Bool(b)) => Some(b.to_string()),
        (Kind::TextArray, Value::Array(items)) => text_array(items),
        (Kind::Integer, Value::Number(n)) => n.as_i64().map(|i| i.to_string()),
        _ => None,
    }
}

/// A JSON array of strings as a Postgres array literal (`{"a","b"}`); any
/// element that is not a string makes the whole value NULL.
fn text_array(items: &[Value]) -> Option<String> {
    let mut out = String::from("{");
    for (i, item) in items.iter().enumerate() {
        let Value::String(s) = item else { return None };
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for c in s.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }
    out.push('}');
    Some(out)
}

/// The first 200 characters of a JSON value, for error messages.
pub fn excerpt(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}
