//! `POST /webhooks` (one of the six operations whose answer holds a secret,
//! so the gate refuses an `Idempotency-Key` on it), `GET /webhooks`
//! (`enabled`, `event`) and `GET /webhooks/{id}/deliveries` (`event_type`,
//! `success`), paginated like every list, `GET /webhooks/{id}`, and
//! `DELETE /webhooks/{id}`. A key sees only its own endpoints.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::body::object;
use super::bundles::maybe_malformed;
use super::query::{json_bytes, page_body, pagination, params};
use crate::sim::error::{ApiError, ApiResult};
use crate::sim::listing::paginate;
use crate::sim::state::{KeyState, Shared};
use crate::sim::webhooks::{DeliveryFilter, EndpointFilter};

/// The longest endpoint URL accepted.
const MAX_URL: usize = 2048;

pub async fn create(
    State(shared): State<Arc<Shared>>,
    Extension(key): Extension<Arc<KeyState>>,
    body: Bytes,
) -> ApiResult {
    let body = object(&body)?;
    let url = body.get("url").and_then(Value::as_str).unwrap_or_default();
    let parsed = url::Url::parse(url).ok().filter(|u| matches!(u.scheme(), "http" | "https"));
    if parsed.is_none() || url.len() > MAX_URL {
        return Err(ApiError::validation(
            "url",
            format!("must be an http(s) URL of at most {MAX_URL} bytes"),
        ));
    }
    let events = match body.get("events") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|e| e.as_str().filter(|s| !s.is_empty()).map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| ApiError::validation("events", "must be an array of event type names"))?,
        Some(_) => return Err(ApiError::validation("events", "must be an array of event type names")),
    };
    let (_, data) = shared.webhooks.register(key.index, url, events);
    Ok((StatusCode::CREATED, Json(json!({ "data": data }))).into_response())
}

pub async fn list(
    State(shared): State<Arc<Shared>>,
    Extension(key): Extension<Arc<KeyState>>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let params = params(raw.as_deref());
    let (page, per_page) = pagination(&params)?;
    let text = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();
    let filter = EndpointFilter { enabled: text("enabled"), event: text("event") };
    let all = shared.webhooks.items(key.index, &filter);
    let (items, total) = paginate(all.iter(), page, per_page, Value::to_string);
    let body = page_body(&items, page, per_page, total);
    Ok(json_bytes(StatusCode::OK, maybe_malformed(&shared, body)))
}

/// `GET /webhooks/{id}`: the endpoint with its `secret` (the one read that
/// shows it besides the creation; the reference does not say whether the real
/// detail does, and a mirror must not store it either way).
pub async fn get(
    State(shared): State<Arc<Shared>>,
    Extension(key): Extension<Arc<KeyState>>,
    Path(id): Path<String>,
) -> ApiResult {
    let data = shared.webhooks.detail(key.index, &id).ok_or_else(|| not_found(&id))?;
    Ok(Json(json!({ "data": data })).into_response())
}

pub async fn deliveries(
    State(shared): State<Arc<Shared>>,
    Extension(key): Extension<Arc<KeyState>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let params = params(raw.as_deref());
    let (page, per_page) = pagination(&params)?;
    let text = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();
    let filter = DeliveryFilter { event_type: text("event_type"), success: text("success") };
    let all = shared.webhooks.delivery_items(Some(key.index), &id, &filter).ok_or_else(|| not_found(&id))?;
    let (items, total) = paginate(all.iter(), page, per_page, Value::to_string);
    let body = page_body(&items, page, per_page, total);
    Ok(json_bytes(StatusCode::OK, maybe_malformed(&shared, body)))
}

pub async fn delete(
    State(shared): State<Arc<Shared>>,
    Extension(key): Extension<Arc<KeyState>>,
    Path(id): Path<String>,
) -> ApiResult {
    if !shared.webhooks.delete(key.index, &id) {
        return Err(not_found(&id));
    }
    Ok(Json(json!({ "data": { "id": id, "deleted": true } })).into_response())
}

/// Another key's endpoint is not found either: it is not visible at all.
fn not_found(id: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "WEBHOOK_NOT_FOUND", "Webhook endpoint not found.")
        .with_details(json!({ "webhook_id": id }))
}
