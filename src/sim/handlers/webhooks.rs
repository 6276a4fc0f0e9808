//! `POST /webhooks`, simulated as one of the six operations whose answer holds a
//! secret (so the gate refuses an `Idempotency-Key` on it).

use axum::Json;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::body::object;
use crate::sim::error::{ApiError, ApiResult};

pub async fn create(body: Bytes) -> ApiResult {
    let body = object(&body)?;
    let url = body.get("url").and_then(Value::as_str).unwrap_or_default();
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(ApiError::validation("url", "must be an http(s) URL"));
    }
    let events = body.get("events").cloned().unwrap_or_else(|| json!([]));
    let id = uuid::Uuid::new_v4();
    let secret = format!("whsec_{}", uuid::Uuid::new_v4().simple());
    let data = json!({ "id": id.to_string(), "url": url, "events": events, "secret": secret });
    Ok((StatusCode::CREATED, Json(json!({ "data": data }))).into_response())
}
