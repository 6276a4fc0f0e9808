//! The bans and comment tasks of the delivered accounts: `GET /account-bans`
//! (paginated, newest first; `status`, `resolution`, `account_id`, `since`,
//! `include_screenshots`), `GET /comments` (paginated, newest first;
//! `status`, `saved_account_id`) and `GET /comments/{id}`.

use std::collections::HashMap;
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
use crate::sim::saved::bans::{BanFilter, parse_since};
use crate::sim::saved::comments::CommentFilter;
use crate::sim::state::Shared;

fn text(params: &HashMap<String, String>, name: &str) -> Option<String> {
    params.get(name).filter(|v| !v.is_empty()).cloned()
}

/// One value or several, comma-separated (as `status` of `/bundles`).
fn list(params: &HashMap<String, String>, name: &str) -> Option<Vec<String>> {
    text(params, name).map(|s| s.split(',').map(|v| v.trim().to_string()).collect())
}

pub async fn bans(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> ApiResult {
    let params = params(raw.as_deref());
    let (page, per_page) = pagination(&params)?;
    let since = text(&params, "since")
        .map(|s| {
            parse_since(&s).ok_or_else(|| ApiError::validation("since", "must be an RFC 3339 timestamp"))
        })
        .transpose()?;
    let filter = BanFilter {
        status: list(&params, "status"),
        resolution: text(&params, "resolution"),
        account_id: text(&params, "account_id"),
        since,
    };
    let screenshots = text(&params, "include_screenshots").is_some_and(|v| v == "true");
    let (items, total) = {
        let world = lock(&shared.world);
        let matching = world.saved.bans.newest_first().filter(|b| filter.matches(b));
        paginate(matching, page, per_page, |b| b.item(screenshots).to_string())
    };
    let body = page_body(&items, page, per_page, total);
    Ok(json_bytes(StatusCode::OK, maybe_malformed(&shared, body)))
}

pub async fn comments(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> ApiResult {
    let params = params(raw.as_deref());
    let (page, per_page) = pagination(&params)?;
    let filter = CommentFilter {
        status: list(&params, "status"),
        saved_account_id: text(&params, "saved_account_id"),
    };
    let (items, total) = {
        let world = lock(&shared.world);
        if let Some(id) = &filter.saved_account_id
            && world.saved.pool.accounts.find(id).is_none()
        {
            return Err(ApiError::saved_account_not_found(id));
        }
        let matching = world.saved.comments.newest_first().filter(|c| filter.matches(c));
        paginate(matching, page, per_page, |c| c.item().to_string())
    };
    let body = page_body(&items, page, per_page, total);
    Ok(json_bytes(StatusCode::OK, maybe_malformed(&shared, body)))
}

pub async fn comment(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    let world = lock(&shared.world);
    let comment = world.saved.comments.find(&id).ok_or_else(|| ApiError::comment_not_found(&id))?;
    Ok(Json(json!({ "data": comment.item() })).into_response())
}
