//! Query strings and list pages: `page`/`per_page` validation and the page body,
//! assembled from pre-serialised items.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;

use crate::sim::error::ApiError;

pub const DEFAULT_PER_PAGE: u64 = 25;
pub const MAX_PER_PAGE: u64 = 100;

/// Decoded query parameters; a repeated name keeps its last value.
pub fn params(raw: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect()
}

/// `page` (1-based, default 1) and `per_page` (default 25, 1..=100). Anything
/// else is refused with `VALIDATION_ERROR` rather than clamped, so a client bug shows.
pub fn pagination(params: &HashMap<String, String>) -> Result<(u64, u64), ApiError> {
    let number = |name: &str, default: u64, max: u64| match params.get(name) {
        None => Ok(default),
        Some(text) => match text.trim().parse::<u64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::validation(
                name,
                format!("must be an integer between 1 and {max}, got {text:?}"),
            )
            .with_details(serde_json::json!({ "field": name, "min": 1, "max": max, "got": text }))),
        },
    };
    Ok((number("page", 1, u64::from(u32::MAX))?, number("per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)?))
}

/// `{"data":[…],"pagination":{…}}`. `total_pages` is 0 when nothing matches.
pub fn page_body<B: AsRef<[u8]>>(items: &[B], page: u64, per_page: u64, total: u64) -> Vec<u8> {
    let size: usize = items.iter().map(|item| item.as_ref().len()).sum::<usize>() + items.len() + 128;
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(b"{\"data\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item.as_ref());
    }
    let total_pages = total.div_ceil(per_page);
    out.extend_from_slice(
        format!(
            "],\"pagination\":{{\"page\":{page},\"per_page\":{per_page},\"total\":{total},\"total_pages\":{total_pages}}}}}"
        )
        .as_bytes(),
    );
    out
}

/// A cut-off copy of a page: valid start, no end (the malformed-page fault).
pub fn malformed(mut body: Vec<u8>) -> Vec<u8> {
    body.truncate(body.len() / 2);
    body.extend_from_slice(b"\"\x00");
    body
}

pub fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    response
}
