//! The API routes under `/api/ext` (relative paths, like the real base URL).

mod accounts;
mod body;
mod bundles;
mod configure;
mod create;
mod credits;
mod lifecycle;
pub mod query;
mod saved_lists;
mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};

use super::error::ApiError;
use super::extensions::Unrouted;
use super::state::Shared;

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/bundles", get(bundles::list).post(create::create))
        .route("/bundles/bulk", post(create::bulk))
        .route("/bundles/{id}", get(bundles::get).patch(lifecycle::patch))
        .route("/bundles/{id}/videos", get(bundles::videos))
        .route("/bundles/{id}/account", get(bundles::account).put(configure::put_account))
        .route("/bundles/{id}/videos/{position}", put(configure::put_video).patch(configure::put_video))
        .route("/bundles/{id}/publish", post(lifecycle::publish))
        .route("/bundles/{id}/unpublish", post(lifecycle::unpublish))
        .route("/bundles/{id}/add-video-slots", post(lifecycle::add_video_slots))
        .route("/bundles/{id}/add-edit-slots", post(lifecycle::add_edit_slots))
        .route("/accounts", get(accounts::list))
        .route("/accounts/{id}", get(accounts::get))
        .route("/accounts/{id}/analytics", get(accounts::analytics))
        .route("/account-bans", get(saved_lists::bans))
        .route("/comments", get(saved_lists::comments))
        .route("/comments/{id}", get(saved_lists::comment))
        .route("/credits/balance", get(credits::balance))
        .route("/me", get(credits::me))
        .route("/credits/history", get(credits::history))
        .route("/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/webhooks/{id}", get(webhooks::get).delete(webhooks::delete))
        .route("/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn not_found() -> Response {
    unrouted(ApiError::not_found())
}

async fn method_not_allowed() -> Response {
    unrouted(ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "Method not allowed here.",
    ))
}

/// No endpoint matched: marked so a write is not counted as an execution.
fn unrouted(error: ApiError) -> Response {
    let mut response = error.into_response();
    response.extensions_mut().insert(Unrouted);
    response
}
