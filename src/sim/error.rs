//! The error envelope `{"error":{"code","message","details"}}` and the codes the
//! simulator answers with.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), details: json!({}) }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn validation(field: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        ApiError::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", format!("Invalid `{field}`: {reason}"))
            .with_details(json!({ "field": field, "reason": reason }))
    }

    pub fn bundle_not_found(id: &str) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "BUNDLE_NOT_FOUND", "Bundle not found.")
            .with_details(json!({ "bundle_id": id }))
    }

    /// No such delivered account (`GET /accounts/{id}` and its sub-resources).
    pub fn account_not_found(id: &str) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "ACCOUNT_NOT_FOUND", "Account not found.")
            .with_details(json!({ "account_id": id }))
    }

    /// A `saved_account_id` (a filter or a body field) names no account.
    pub fn saved_account_not_found(id: &str) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "SAVED_ACCOUNT_NOT_FOUND", "Saved account not found.")
            .with_details(json!({ "saved_account_id": id }))
    }

    /// No such comment task (the code's name is assumed: the reference lists none for comments).
    pub fn comment_not_found(id: &str) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "COMMENT_NOT_FOUND", "Comment task not found.")
            .with_details(json!({ "comment_id": id }))
    }

    pub fn not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "No such endpoint.")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": { "code": self.code, "message": self.message, "details": self.details }
        });
        (self.status, Json(body)).into_response()
    }
}

pub type ApiResult = Result<Response, ApiError>;
