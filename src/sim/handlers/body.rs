//! Reading and validating mutation bodies field by field, so every refusal is a
//! `VALIDATION_ERROR` naming the field.

use serde_json::{Map, Value};

use crate::sim::error::ApiError;

pub fn object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::validation("body", "must be a JSON object")),
        Err(e) => Err(ApiError::validation("body", format!("is not valid JSON: {e}"))),
    }
}

pub fn one_of(body: &Map<String, Value>, field: &str, allowed: &[&str]) -> Result<String, ApiError> {
    match body.get(field) {
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(s.clone()),
        None | Some(Value::Null) => Err(ApiError::validation(field, "is required")),
        Some(_) => Err(ApiError::validation(field, format!("must be one of {}", allowed.join(", ")))),
    }
}

/// A nullable string of at most `max` characters; `None` when absent or null.
pub fn opt_string(body: &Map<String, Value>, field: &str, max: usize) -> Result<Option<String>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s.clone())),
        Some(Value::String(_)) => {
            Err(ApiError::validation(field, format!("must be at most {max} characters")))
        }
        Some(_) => Err(ApiError::validation(field, "must be a string or null")),
    }
}

pub fn opt_int(body: &Map<String, Value>, field: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::validation(field, format!("must be an integer between {min} and {max}"))),
        },
    }
}

pub fn opt_bool(body: &Map<String, Value>, field: &str) -> Result<Option<bool>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ApiError::validation(field, "must be true or false")),
    }
}
