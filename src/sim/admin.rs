//! The admin endpoints under `/__sim`: no key, no budget, loopback only unless
//! bound elsewhere on purpose.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, body::Bytes};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::control;
use super::faults::Faults;
use super::lock::lock;
use super::state::Shared;

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/stats", get(stats))
        .route("/ledger", get(ledger))
        .route("/dataset", get(dataset))
        .route("/faults", get(faults).put(put_faults).patch(patch_faults))
        .route("/faults/release", post(release))
        .route("/data/insert", post(insert))
        .route("/data/delete", post(delete))
        .route("/data/change", post(change))
        .route("/data/video", post(change_video))
        .route("/data/account", post(change_account))
        .route("/keys/{fingerprint}/drain", post(drain))
        .route("/keys/{fingerprint}/revoke", post(revoke))
        .route("/webhooks/endpoints", get(webhook_endpoints))
        .route("/webhooks/events", get(webhook_events))
        .route("/churn", get(churn).put(put_churn))
        .route("/reset", post(reset))
        .merge(super::admin_saved::router())
}

pub(super) fn bad_request(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": { "code": "VALIDATION_ERROR", "message": message.into() } })),
    )
        .into_response()
}

/// An empty body means "all defaults".
pub(super) fn parse<T: for<'de> Deserialize<'de> + Default>(body: &[u8]) -> Result<T, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| e.to_string())
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    Json(control::stats(&shared)).into_response()
}

/// The changes `/churn` made so far (`GET`), or its rate (`PUT {"per_second": N}`).
async fn churn(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!({ "data": super::churn::changes(&shared) })).into_response()
}

async fn put_churn(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    #[derive(Deserialize, Default)]
    struct Rate {
        per_second: f64,
    }
    match parse::<Rate>(&body) {
        Ok(rate) if rate.per_second.is_finite() && rate.per_second >= 0.0 => {
            super::churn::set_rate(&shared, rate.per_second);
            Json(json!({ "per_second": rate.per_second })).into_response()
        }
        Ok(_) => bad_request("per_second must be a number, 0 or more"),
        Err(message) => bad_request(message),
    }
}

async fn ledger(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!({ "data": control::ledger(&shared) })).into_response()
}

async fn dataset(State(shared): State<Arc<Shared>>) -> Response {
    Json(control::dataset(&shared)).into_response()
}

async fn faults(State(shared): State<Arc<Shared>>) -> Response {
    Json(lock(&shared.faults).clone()).into_response()
}

async fn put_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let faults: Faults = match parse(&body) {
        Ok(f) => f,
        Err(message) => return bad_request(message),
    };
    apply_faults(&shared, faults)
}

/// Changes only the knobs present in the body.
async fn patch_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let patch: Map<String, Value> = match parse(&body) {
        Ok(p) => p,
        Err(message) => return bad_request(message),
    };
    let merge = |faults: &mut Faults| {
        let mut merged = match serde_json::to_value(&*faults) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        merged.extend(patch);
        *faults = serde_json::from_value(Value::Object(merged)).map_err(|e| e.to_string())?;
        Ok(())
    };
    match control::update_faults(&shared, merge) {
        Ok(faults) => Json(faults).into_response(),
        Err(message) => bad_request(message),
    }
}

fn apply_faults(shared: &Shared, faults: Faults) -> Response {
    match control::set_faults(shared, faults.clone()) {
        Ok(()) => Json(faults).into_response(),
        Err(message) => bad_request(message),
    }
}

async fn release(State(shared): State<Arc<Shared>>) -> StatusCode {
    control::release_slow(&shared);
    StatusCode::NO_CONTENT
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct DataChange {
    count: usize,
    ids: Vec<String>,
    set: Map<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Insert {
    count: usize,
    same_created_at: bool,
}

async fn insert(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match parse::<Insert>(&body) {
        Ok(i) => match control::room_for(&shared, i.count.max(1)) {
            Ok(()) => {
                Json(json!({ "inserted": control::insert(&shared, i.count.max(1), i.same_created_at) }))
                    .into_response()
            }
            Err(message) => bad_request(message),
        },
        Err(message) => bad_request(message),
    }
}

/// One bundle's child: `position` names a video slot (1-based).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ChildChange {
    id: String,
    position: usize,
    set: Map<String, Value>,
}

async fn change_video(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match parse::<ChildChange>(&body) {
        Ok(c) => changed(control::change_video(&shared, &c.id, c.position, &c.set)),
        Err(message) => bad_request(message),
    }
}

async fn change_account(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match parse::<ChildChange>(&body) {
        Ok(c) if c.position == 0 => changed(control::change_account(&shared, &c.id, &c.set)),
        Ok(_) => bad_request("an account has no position"),
        Err(message) => bad_request(message),
    }
}

fn changed(found: bool) -> Response {
    if found {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": { "code": "NOT_FOUND", "message": "No such bundle or video slot." } })),
        )
            .into_response()
    }
}

/// A `count` above [`control::MAX_PICK`] is refused.
fn parse_change(body: &[u8]) -> Result<DataChange, String> {
    let c = parse::<DataChange>(body)?;
    if c.count > control::MAX_PICK {
        return Err(format!("count must be at most {}, got {}", control::MAX_PICK, c.count));
    }
    Ok(c)
}

async fn delete(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match parse_change(&body) {
        Ok(c) => Json(json!({ "deleted": control::delete(&shared, &c.ids, c.count.max(1)) })).into_response(),
        Err(message) => bad_request(message),
    }
}

async fn change(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match parse_change(&body) {
        Ok(c) => Json(json!({ "changed": control::change(&shared, &c.ids, &c.set, c.count.max(1)) }))
            .into_response(),
        Err(message) => bad_request(message),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Drain {
    seconds: u64,
}

async fn drain(State(shared): State<Arc<Shared>>, Path(fingerprint): Path<String>, body: Bytes) -> Response {
    let drain: Drain = match parse(&body) {
        Ok(d) => d,
        Err(message) => return bad_request(message),
    };
    if drain.seconds > control::MAX_DRAIN_SECS {
        return bad_request(format!(
            "seconds must be at most {}, got {}",
            control::MAX_DRAIN_SECS,
            drain.seconds
        ));
    }
    if control::drain(&shared, &fingerprint, Duration::from_secs(drain.seconds)) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": { "code": "KEY_NOT_FOUND", "message": "No key with this fingerprint." } })),
        )
            .into_response()
    }
}

/// Every later request with the key is answered 401 `AUTH_REVOKED_KEY` (until a reset).
async fn revoke(State(shared): State<Arc<Shared>>, Path(fingerprint): Path<String>) -> Response {
    match shared.key_by_fingerprint(&fingerprint) {
        Some(key) => {
            key.revoked.store(true, std::sync::atomic::Ordering::Relaxed);
            StatusCode::NO_CONTENT.into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": { "code": "KEY_NOT_FOUND", "message": "No key with this fingerprint." } })),
        )
            .into_response(),
    }
}

/// Every key's endpoints (fingerprint of the key, no secret), in registration order.
async fn webhook_endpoints(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!({ "data": shared.webhooks.endpoints(&shared.fingerprints()) })).into_response()
}

/// Every event kept, oldest first, with its deliveries and attempts.
async fn webhook_events(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!({ "data": shared.webhooks.events() })).into_response()
}

async fn reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.reset();
    StatusCode::NO_CONTENT
}
