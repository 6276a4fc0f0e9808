//! `POST /bundles` and `POST /bundles/bulk`: validate, price, debit the key's
//! credits (402 when short) and insert new `pending_setup` bundles, the newest.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::body::{object, one_of, opt_bool, opt_int, opt_string};
use crate::sim::error::{ApiError, ApiResult};
use crate::sim::execute::is_dry_run;
use crate::sim::extensions::Debited;
use crate::sim::lock::lock;
use crate::sim::pricing::Cost;
use crate::sim::seed::{self, BundleSpec};
use crate::sim::state::{Account, KeyState, Shared};
use crate::sim::vocab::{BUNDLE_TYPES, PLATFORMS};

/// Most bundles one bulk request may create.
pub const MAX_BULK: i64 = 50;

pub fn spec(body: &Map<String, Value>) -> Result<BundleSpec, ApiError> {
    let bundle_type = one_of(body, "bundle_type", &BUNDLE_TYPES)?;
    let platform = one_of(body, "platform", &PLATFORMS)?;
    let country = match body.get("country") {
        Some(Value::String(c)) if (2..=3).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_uppercase()) => {
            c.clone()
        }
        None | Some(Value::Null) => return Err(ApiError::validation("country", "is required")),
        Some(_) => return Err(ApiError::validation("country", "must be a 2 or 3 letter upper-case code")),
    };
    let videos = opt_int(body, "videos_quantity", 0, 100)?;
    let videos_quantity = match (bundle_type.as_str(), videos) {
        ("account_only", None | Some(0)) => 0,
        ("account_only", Some(_)) => {
            return Err(ApiError::validation("videos_quantity", "must be 0 for an account_only bundle"));
        }
        (_, Some(n)) if n >= 1 => n,
        _ => {
            return Err(ApiError::validation(
                "videos_quantity",
                "must be at least 1 for a bundle with videos",
            ));
        }
    };
    let review_mode = match body.get("review_mode") {
        None | Some(Value::Null) => "auto".to_string(),
        Some(_) => one_of(body, "review_mode", &["auto", "manual"])?,
    };
    Ok(BundleSpec {
        bundle_type,
        platform,
        country,
        title: opt_string(body, "title", 255)?,
        external_ref: opt_string(body, "external_ref", 255)?,
        videos_quantity,
        edits_quantity: opt_int(body, "edits_quantity", 0, 100)?.unwrap_or(0),
        review_mode,
        auto_finalize_videos: opt_bool(body, "auto_finalize_videos")?.unwrap_or(false),
    })
}

pub fn insufficient(required: i64, available: i64) -> ApiError {
    ApiError::new(
        StatusCode::PAYMENT_REQUIRED,
        "INSUFFICIENT_CREDITS",
        "Not enough credits for this operation.",
    )
    .with_details(json!({ "required": required, "available": available, "missing": required - available }))
}

/// Refuses with 402 (nothing debited) when the balance cannot pay `cost`.
pub fn ensure_credits(account: &Account, cost: i64) -> Result<(), ApiError> {
    if account.credits < cost { Err(insufficient(cost, account.credits)) } else { Ok(()) }
}

fn charged(status: StatusCode, data: Value, cost: Cost, remaining: i64) -> Response {
    let body = json!({
        "data": data,
        "credits_charged": cost.total(),
        "credits_remaining": remaining,
        "cost_breakdown": cost.breakdown(),
    });
    let mut response = (status, Json(body)).into_response();
    response.extensions_mut().insert(Debited(cost.total()));
    response
}

pub async fn create(
    State(shared): State<Arc<Shared>>,
    Extension(key): Extension<Arc<KeyState>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let spec = spec(&object(&body)?)?;
    let dry_run = is_dry_run(&Method::POST, "/bundles", &headers);
    create_many(&shared, &key, &spec, 1, dry_run).map(|(created, cost, remaining)| {
        let data = created.into_iter().next().unwrap_or(Value::Null);
        let status = if dry_run { StatusCode::OK } else { StatusCode::CREATED };
        charged(status, data, cost, remaining)
    })
}

/// Body: the `POST /bundles` fields plus `quantity` (1..=50): that many identical
/// bundles, sharing one `external_ref` and one `created_at`.
pub async fn bulk(
    State(shared): State<Arc<Shared>>,
    Extension(key): Extension<Arc<KeyState>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let body = object(&body)?;
    let quantity = opt_int(&body, "quantity", 1, MAX_BULK)?
        .ok_or_else(|| ApiError::validation("quantity", format!("is required (1 to {MAX_BULK})")))?;
    let spec = spec(&body)?;
    let dry_run = is_dry_run(&Method::POST, "/bundles/bulk", &headers);
    create_many(&shared, &key, &spec, quantity, dry_run).map(|(created, cost, remaining)| {
        // A dry run answers like `POST /bundles`'s: 200 with the preview object in `data`.
        if dry_run {
            let data = created.into_iter().next().unwrap_or(Value::Null);
            charged(StatusCode::OK, data, cost, remaining)
        } else {
            charged(StatusCode::CREATED, Value::Array(created), cost, remaining)
        }
    })
}

/// All or nothing: either every bundle is created and paid for, or none is.
fn create_many(
    shared: &Shared,
    key: &KeyState,
    spec: &BundleSpec,
    quantity: i64,
    dry_run: bool,
) -> Result<(Vec<Value>, Cost, i64), ApiError> {
    let cost = Cost::of(spec).times(quantity);
    let mut guard = lock(&shared.world);
    let world = &mut *guard;
    let account = &mut world.accounts[key.index];
    ensure_credits(account, cost.total())?;
    if dry_run {
        let preview = json!({ "bundle_id": Value::Null, "dry_run": true, "credits_required": cost.total() });
        return Ok((vec![preview], Cost::default(), account.credits));
    }
    let mut created = Vec::new();
    // One request, one instant: every bundle of a bulk shares one created_at.
    let at = world.data.next_created_at();
    for _ in 0..quantity {
        let draft = seed::build(&mut world.rng, spec, "pending_setup", at);
        let id = world.data.insert(draft);
        created.extend(world.data.find(&id).map(|b| b.detail()));
    }
    let first = created.first().and_then(|b| b["id"].as_str()).map(str::to_string);
    let account = &mut world.accounts[key.index];
    account.debit(cost.total(), "Bundle creation", first, &mut world.rng);
    Ok((created, cost, account.credits))
}
