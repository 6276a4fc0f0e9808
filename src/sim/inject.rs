//! The failures the fault knobs inject before a request runs (a 5xx, or a
//! pricing change for a write): the answer is given and nothing executes.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::ApiError;
use super::lock::lock;
use super::retry_after::{now, retry_after};
use super::state::Shared;

/// The injected failure due for this request, if any (counted as fired).
pub fn inject_failure(shared: &Shared, is_write: bool) -> Option<Response> {
    if lock(&shared.faults).take_pricing_changed(is_write) {
        return Some(
            ApiError::new(
                StatusCode::CONFLICT,
                "BUNDLE_PRICING_CHANGED",
                "Pricing changed since this request was prepared; refetch and retry with a new idempotency key.",
            )
            .into_response(),
        );
    }
    let (status, retry) = {
        let mut rng = lock(&shared.fault_rng);
        let mut faults = lock(&shared.faults);
        let status = faults.take_fail(is_write, &mut rng)?;
        (status, faults.fail_retry_after_secs.map(|secs| (secs, faults.fail_retry_after_format)))
    };
    lock(&shared.fired).failed += 1;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut response = ApiError::new(status, "INTERNAL_ERROR", "Injected failure: nothing was executed.")
        .with_details(json!({ "simulated": true }))
        .into_response();
    if let Some((secs, format)) = retry {
        response.headers_mut().insert(header::RETRY_AFTER, retry_after(secs, format, now()));
    }
    Some(response)
}
