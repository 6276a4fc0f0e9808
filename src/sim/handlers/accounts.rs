//! The delivered accounts: `GET /accounts` (paginated, newest first; filters
//! `platform`, `country`, `banned`), `GET /accounts/{id}` and
//! `GET /accounts/{id}/analytics` (the simulator's day).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

use super::bundles::maybe_malformed;
use super::query::{json_bytes, page_body, pagination, params};
use crate::sim::error::{ApiError, ApiResult};
use crate::sim::listing::paginate;
use crate::sim::lock::lock;
use crate::sim::saved::analytics;
use crate::sim::saved::pool::AccountFilter;
use crate::sim::state::Shared;

pub async fn list(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> ApiResult {
    let params = params(raw.as_deref());
    let (page, per_page) = pagination(&params)?;
    let text = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();
    let filter =
        AccountFilter { platform: text("platform"), country: text("country"), banned: text("banned") };
    let (items, total) = {
        let world = lock(&shared.world);
        let matching = world.saved.pool.accounts.newest_first().filter(|a| filter.matches(a));
        paginate(matching, page, per_page, |a| a.item().to_string())
    };
    let body = page_body(&items, page, per_page, total);
    Ok(json_bytes(StatusCode::OK, maybe_malformed(&shared, body)))
}

pub async fn get(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    let world = lock(&shared.world);
    let account = world.saved.pool.accounts.find(&id).ok_or_else(|| ApiError::account_not_found(&id))?;
    Ok(Json(json!({ "data": account.item() })).into_response())
}

pub async fn analytics(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    let world = lock(&shared.world);
    let account = world.saved.pool.accounts.find(&id).ok_or_else(|| ApiError::account_not_found(&id))?;
    Ok(Json(json!({ "data": analytics::of(&account.id, world.saved.day()) })).into_response())
}
