//! The failures the fault knobs inject instead of running a request (a 5xx,
//! or a pricing change for a write): the answer is given and nothing executes.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::ApiError;
use super::lock::lock;
use super::retry_after::{now, retry_after};
use super::state::Shared;

/// The pricing change due for this write, if any (the `pricing_changed_next`
/// knob): 409 `BUNDLE_PRICING_CHANGED`, nothing executed. The caller stores it
/// under the request's idempotency key like any answer an endpoint gives, so a
/// resend with the same key replays it (the reference says to retry with a
/// new key; it is silent on what the old key answers: we assumed the answer
/// is stored, as for every other answer). A dry run never meets it: it is how
/// a client refetches the price.
pub fn pricing_changed(shared: &Shared) -> Option<Response> {
    lock(&shared.faults).take_pricing_changed().then(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "BUNDLE_PRICING_CHANGED",
            "Pricing changed since this request was prepared; refetch and retry with a new idempotency key.",
        )
        .into_response()
    })
}

/// The injected 5xx due for this request, if any (counted as fired).
pub fn inject_failure(shared: &Shared, is_write: bool) -> Option<Response> {
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
