//! Configuring what a bundle delivers: `PUT /bundles/{id}/account` and
//! `PUT|PATCH /bundles/{id}/videos/{position}` (free; they change no credits).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

use super::body::{object, opt_string};
use crate::sim::error::{ApiError, ApiResult};
use crate::sim::lock::lock;
use crate::sim::state::Shared;

/// Reads the nullable string fields present in `body`; at least one is required.
fn fields(body: &Map<String, Value>, names: &[&str]) -> Result<Map<String, Value>, ApiError> {
    let mut set = Map::new();
    for name in names {
        if body.contains_key(*name) {
            set.insert((*name).to_string(), json!(opt_string(body, name, 2048)?));
        }
    }
    if set.is_empty() {
        return Err(ApiError::validation("body", format!("needs at least one of {}", names.join(", "))));
    }
    Ok(set)
}

pub async fn put_account(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let set = fields(&object(&body)?, &["username", "display_name", "bio"])?;
    let mut world = lock(&shared.world);
    let mut bundle = world.data.find_mut(&id).ok_or_else(|| ApiError::bundle_not_found(&id))?;
    let account = &mut bundle.children_mut().account;
    if let Value::Object(fields) = account {
        fields.extend(set);
    }
    Ok(Json(json!({ "data": account })).into_response())
}

pub async fn put_video(
    State(shared): State<Arc<Shared>>,
    Path((id, position)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let set = fields(&object(&body)?, &["caption", "video_url", "scheduled_date"])?;
    let mut world = lock(&shared.world);
    let mut bundle = world.data.find_mut(&id).ok_or_else(|| ApiError::bundle_not_found(&id))?;
    let not_found = || {
        ApiError::new(StatusCode::NOT_FOUND, "VIDEO_NOT_FOUND", "No video slot at this position.")
            .with_details(json!({ "bundle_id": id, "position": position }))
    };
    let index = position.parse::<usize>().ok().filter(|p| *p >= 1).ok_or_else(not_found)? - 1;
    let videos = &mut bundle.children_mut().videos;
    let slot = videos.get_mut(index).and_then(Value::as_object_mut).ok_or_else(not_found)?;
    slot.extend(set);
    if slot.get("status") == Some(&json!("pending")) && slot.get("video_url").is_some_and(Value::is_string) {
        slot.insert("status".into(), json!("configured"));
    }
    let slot = Value::Object(slot.clone());
    let configured = videos.iter().filter(|v| v["status"] != "pending").count();
    bundle.set("videos_configured", json!(configured));
    Ok(Json(json!({ "data": slot })).into_response())
}
