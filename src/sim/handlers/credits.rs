//! The key's account and money: `GET /me`, `GET /credits/balance` and
//! `GET /credits/history` (paginated, newest first, `date_from`/`date_to`
//! inclusive, `YYYY-MM-DD`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::NaiveDate;
use serde_json::{Value, json};

use super::bundles::maybe_malformed;
use super::query::{json_bytes, page_body, pagination, params};
use crate::sim::error::{ApiError, ApiResult};
use crate::sim::listing::paginate;
use crate::sim::lock::lock;
use crate::sim::state::{KeyState, Shared};

/// `GET /credits/balance`: the balance, `currency` `credits`, and
/// `updated_at`, when it last moved (the newest entry of the history; both
/// fields assumed: the reference shows only `balance`).
pub async fn balance(
    State(shared): State<Arc<Shared>>,
    Extension(key): Extension<Arc<KeyState>>,
) -> ApiResult {
    let (credits, updated_at) = {
        let world = lock(&shared.world);
        let account = &world.accounts[key.index];
        (account.credits, account.history.first().map(|entry| entry["created_at"].clone()))
    };
    let data = json!({ "balance": credits, "currency": "credits", "updated_at": updated_at });
    Ok(Json(json!({ "data": data })).into_response())
}

/// `GET /me`: the reference names the endpoint (getCurrentUser) but not its
/// body; assumed, like every singleton, `{"data": {...}}` with the user's
/// `id` (the account the key belongs to).
pub async fn me(Extension(key): Extension<Arc<KeyState>>) -> ApiResult {
    Ok(Json(json!({ "data": { "id": key.account, "object": "user" } })).into_response())
}

pub async fn history(
    State(shared): State<Arc<Shared>>,
    Extension(key): Extension<Arc<KeyState>>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let params = params(raw.as_deref());
    let (page, per_page) = pagination(&params)?;
    let date = |name: &str| -> Result<Option<NaiveDate>, ApiError> {
        params
            .get(name)
            .filter(|v| !v.is_empty())
            .map(|v| {
                NaiveDate::parse_from_str(v, "%Y-%m-%d")
                    .map_err(|_| ApiError::validation(name, "must be YYYY-MM-DD"))
            })
            .transpose()
    };
    let (from, to) = (date("date_from")?, date("date_to")?);
    let (items, total) = {
        let world = lock(&shared.world);
        let inside = |entry: &&Value| {
            let day = entry["created_at"]
                .as_str()
                .and_then(|t| t.get(..10))
                .and_then(|d| d.parse::<NaiveDate>().ok());
            day.is_some_and(|d| from.is_none_or(|f| d >= f) && to.is_none_or(|t| d <= t))
        };
        let matching = world.accounts[key.index].history.iter().filter(inside);
        paginate(matching, page, per_page, |entry| entry.to_string())
    };
    let body = page_body(&items, page, per_page, total);
    Ok(json_bytes(StatusCode::OK, maybe_malformed(&shared, body)))
}
