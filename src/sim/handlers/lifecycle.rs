//! Changes to an existing bundle: `PATCH /bundles/{id}`, `publish`/`unpublish`
//! (409 outside the documented lifecycle) and the paid `add-video-slots`/`add-edit-slots`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::body::{object, opt_bool, opt_int, opt_string};
use super::create::ensure_credits;
use crate::sim::error::{ApiError, ApiResult};
use crate::sim::extensions::Debited;
use crate::sim::lock::lock;
use crate::sim::pricing::{Cost, EDIT_SLOT, VIDEO_SLOT};
use crate::sim::state::{KeyState, Shared};

/// Statuses after which nothing can be added to a bundle.
const CLOSED: [&str; 3] = ["completed", "cancelled", "archived"];

fn invalid_status(current: &str, allowed: &[&str]) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "BUNDLE_INVALID_STATUS",
        format!("Not allowed while the bundle is {current}."),
    )
    .with_details(json!({ "current_status": current, "allowed_statuses": allowed }))
}

fn data(detail: Value) -> Response {
    Json(json!({ "data": detail })).into_response()
}

pub async fn patch(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let body = object(&body)?;
    let known = ["title", "external_ref", "auto_finalize_videos"];
    if !known.iter().any(|f| body.contains_key(*f)) {
        return Err(ApiError::validation(
            "body",
            "needs at least one of title, external_ref, auto_finalize_videos",
        ));
    }
    let title = opt_string(&body, "title", 255)?;
    let external_ref = opt_string(&body, "external_ref", 255)?;
    let auto_finalize = opt_bool(&body, "auto_finalize_videos")?;
    let mut world = lock(&shared.world);
    let mut bundle = world.data.find_mut(&id).ok_or_else(|| ApiError::bundle_not_found(&id))?;
    if body.contains_key("title") {
        bundle.set("title", json!(title));
    }
    if body.contains_key("external_ref") {
        bundle.set("external_ref", json!(external_ref));
    }
    if let Some(flag) = auto_finalize {
        bundle.set("auto_finalize_videos", json!(flag));
    }
    Ok(data(bundle.detail()))
}

/// `pending_setup → published`; an already published bundle gets `BUNDLE_ALREADY_PUBLISHED`.
pub async fn publish(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    let mut world = lock(&shared.world);
    let mut bundle = world.data.find_mut(&id).ok_or_else(|| ApiError::bundle_not_found(&id))?;
    match bundle.status().as_str() {
        "pending_setup" => {
            bundle.set("status", json!("published"));
            Ok(data(bundle.detail()))
        }
        current @ ("published" | "published_priority") => Err(ApiError::new(
            StatusCode::CONFLICT,
            "BUNDLE_ALREADY_PUBLISHED",
            "The bundle is already published.",
        )
        .with_details(json!({ "current_status": current }))),
        current => Err(invalid_status(current, &["pending_setup"])),
    }
}

/// `published → pending_setup` (credits are not refunded).
pub async fn unpublish(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    let mut world = lock(&shared.world);
    let mut bundle = world.data.find_mut(&id).ok_or_else(|| ApiError::bundle_not_found(&id))?;
    match bundle.status().as_str() {
        "published" | "published_priority" => {
            bundle.set("status", json!("pending_setup"));
            Ok(data(bundle.detail()))
        }
        current => Err(invalid_status(current, &["published", "published_priority"])),
    }
}

pub async fn add_video_slots(
    State(shared): State<Arc<Shared>>,
    Extension(key): Extension<Arc<KeyState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    add_slots(&shared, &key, &id, &body, Slots::Video)
}

pub async fn add_edit_slots(
    State(shared): State<Arc<Shared>>,
    Extension(key): Extension<Arc<KeyState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    add_slots(&shared, &key, &id, &body, Slots::Edit)
}

#[derive(Clone, Copy)]
enum Slots {
    Video,
    Edit,
}

fn add_slots(shared: &Shared, key: &KeyState, id: &str, body: &[u8], kind: Slots) -> ApiResult {
    let body = object(body)?;
    let quantity = opt_int(&body, "quantity", 1, 100)?
        .ok_or_else(|| ApiError::validation("quantity", "is required (1 to 100)"))?;
    let (unit, field, label) = match kind {
        Slots::Video => (VIDEO_SLOT, "videos_quantity", "Video slots"),
        Slots::Edit => (EDIT_SLOT, "edits_quantity", "Edit slots"),
    };
    let cost = unit * quantity;
    // The same shape as a creation's breakdown: every part, zero where not bought.
    let breakdown = match kind {
        Slots::Video => Cost { videos: cost, ..Cost::default() },
        Slots::Edit => Cost { edits: cost, ..Cost::default() },
    };
    let mut guard = lock(&shared.world);
    let world = &mut *guard;
    let mut bundle = world.data.find_mut(id).ok_or_else(|| ApiError::bundle_not_found(id))?;
    let status = bundle.status();
    if CLOSED.contains(&status.as_str()) {
        return Err(invalid_status(&status, &["any status but completed, cancelled, archived"]));
    }
    ensure_credits(&world.accounts[key.index], cost)?;
    let total = bundle.int_field(field) + quantity;
    if let Slots::Video = kind {
        let videos = &mut bundle.children_mut().videos;
        let first = videos.len() as i64 + 1;
        for position in first..first + quantity {
            videos.push(json!({
                "position": position, "status": "pending", "caption": null, "video_url": null, "scheduled_date": null,
            }));
        }
    }
    bundle.set(field, json!(total));
    let detail = bundle.detail();
    drop(bundle);
    let account = &mut world.accounts[key.index];
    account.debit(cost, label, Some(id.to_string()), &mut world.rng);
    let body = json!({
        "data": detail,
        "credits_charged": cost,
        "credits_remaining": account.credits,
        "cost_breakdown": breakdown.breakdown(),
    });
    let mut response = Json(body).into_response();
    response.extensions_mut().insert(Debited(cost));
    Ok(response)
}
