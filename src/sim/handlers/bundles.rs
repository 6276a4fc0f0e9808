//! The bundle reads: `GET /bundles` (paginated, filtered, in the `order` knob's order),
//! `GET /bundles/{id}`, `/bundles/{id}/videos` (not paginated) and `/bundles/{id}/account`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

use super::query::{json_bytes, malformed, page_body, pagination, params};
use crate::sim::drift;
use crate::sim::error::{ApiError, ApiResult};
use crate::sim::filter::BundleFilter;
use crate::sim::lock::lock;
use crate::sim::state::Shared;

pub async fn list(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> ApiResult {
    let params = params(raw.as_deref());
    let (page, per_page) = pagination(&params)?;
    let text = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();
    let filter = BundleFilter {
        status: text("status").map(|s| s.split(',').map(|v| v.trim().to_string()).collect()),
        platform: text("platform"),
        bundle_type: text("bundle_type"),
        external_ref: text("external_ref"),
        account_status: text("account_status"),
    };
    let served = shared.list_requests.fetch_add(1, Ordering::Relaxed) + 1;
    let (drift_every, drift_kind, order) = {
        let faults = lock(&shared.faults);
        (u64::from(faults.drift_every), faults.drift_kind, faults.order)
    };
    let body = {
        let mut guard = lock(&shared.world);
        let world = &mut *guard;
        if drift_every > 0 && served % drift_every == 0 {
            drift::once(world, drift_kind);
            lock(&shared.fired).drifted += 1;
        }
        let (items, total) = world.data.page(&filter, order, page, per_page, &mut world.order_rng);
        page_body(&items, page, per_page, total)
    };
    Ok(json_bytes(StatusCode::OK, maybe_malformed(&shared, body)))
}

/// Applies the malformed-page fault to a list body.
pub fn maybe_malformed(shared: &Shared, body: Vec<u8>) -> Vec<u8> {
    if lock(&shared.faults).take_malformed() {
        lock(&shared.fired).malformed += 1;
        malformed(body)
    } else {
        body
    }
}

pub async fn get(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    let world = lock(&shared.world);
    let bundle = world.data.find(&id).ok_or_else(|| ApiError::bundle_not_found(&id))?;
    Ok(Json(json!({ "data": bundle.detail() })).into_response())
}

pub async fn videos(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    let world = lock(&shared.world);
    let bundle = world.data.find(&id).ok_or_else(|| ApiError::bundle_not_found(&id))?;
    Ok(Json(json!({ "data": bundle.videos() })).into_response())
}

pub async fn account(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    let world = lock(&shared.world);
    let bundle = world.data.find(&id).ok_or_else(|| ApiError::bundle_not_found(&id))?;
    Ok(Json(json!({ "data": bundle.account() })).into_response())
}
