//! The admin endpoints of the delivered accounts, for demos and benchmarks
//! (the handle's methods over HTTP): bans, changes and deletions of accounts,
//! bans and comment tasks, the simulator's day, and their steady churn.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::account_churn::{self, Rates};
use super::admin::{bad_request, parse};
use super::control::MAX_PICK;
use super::lock::lock;
use super::saved::Saved;
use super::saved::clock::now_millis;
use super::state::Shared;

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/accounts/ban", post(ban))
        .route("/accounts/change", post(change_accounts))
        .route("/accounts/delete", post(delete_accounts))
        .route("/bans/change", post(change_bans))
        .route("/comments/insert", post(insert_comments))
        .route("/comments/change", post(change_comments))
        .route("/comments/delete", post(delete_comments))
        .route("/day/advance", post(advance_day))
        .route("/account-churn", get(churn).put(put_churn))
}

/// `ids` to act on, or `count` drawn at random when `ids` is empty.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Pick {
    count: usize,
    ids: Vec<String>,
    set: Map<String, Value>,
}

/// Runs `act` on the world's saved data with the parsed body; `count` above [`MAX_PICK`] is refused.
fn with_pick(shared: &Shared, body: &[u8], act: impl FnOnce(&mut Saved, Pick) -> Value) -> Response {
    match parse::<Pick>(body) {
        Ok(p) if p.count > MAX_PICK => {
            bad_request(format!("count must be at most {MAX_PICK}, got {}", p.count))
        }
        Ok(p) => Json(act(&mut lock(&shared.world).saved, p)).into_response(),
        Err(message) => bad_request(message),
    }
}

/// Draws `count` ids with `pick` (fewer when it finds none).
fn drawn(saved: &mut Saved, count: usize, mut pick: impl FnMut(&mut Saved) -> Option<String>) -> Vec<String> {
    (0..count.max(1)).filter_map(|_| pick(saved)).collect()
}

/// `{"ids":[…]}` or `{"count":n}`: bans those accounts (n drawn among the unbanned); the new bans' ids.
async fn ban(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    with_pick(&shared, &body, |saved, p| {
        let at = now_millis();
        let ids = if p.ids.is_empty() { drawn(saved, p.count, Saved::pick_unbanned) } else { p.ids };
        json!({ "banned": ids.iter().filter_map(|id| saved.ban(id, at)).collect::<Vec<_>>() })
    })
}

async fn change_accounts(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    with_pick(&shared, &body, |saved, p| {
        let changed: Vec<&String> = p.ids.iter().filter(|id| saved.change_account(id, &p.set)).collect();
        json!({ "changed": changed })
    })
}

async fn delete_accounts(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    with_pick(&shared, &body, |saved, p| json!({ "deleted": saved.delete_accounts(&p.ids) }))
}

/// `{"ids":[…],"set":{…}}` sets fields; `{"count":n}` moves n unresolved bans a step.
async fn change_bans(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    with_pick(&shared, &body, |saved, p| {
        let at = now_millis();
        let changed: Vec<String> = if p.ids.is_empty() {
            let ids = drawn(saved, p.count, Saved::pick_open_ban);
            ids.into_iter().filter(|id| saved.step_ban(id, at)).collect()
        } else {
            p.ids.into_iter().filter(|id| saved.change_ban(id, &p.set, at)).collect()
        };
        json!({ "changed": changed })
    })
}

async fn insert_comments(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    with_pick(
        &shared,
        &body,
        |saved, p| json!({ "inserted": saved.insert_comments(p.count.max(1), now_millis()) }),
    )
}

/// `{"ids":[…],"set":{…}}` sets fields; `{"count":n}` moves n tasks a step along their statuses.
async fn change_comments(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    with_pick(&shared, &body, |saved, p| {
        let at = now_millis();
        let changed: Vec<String> = if p.ids.is_empty() {
            let ids = drawn(saved, p.count, Saved::pick_moving_comment);
            ids.into_iter().filter(|id| saved.step_comment(id, at)).collect()
        } else {
            p.ids.into_iter().filter(|id| saved.change_comment(id, &p.set, at)).collect()
        };
        json!({ "changed": changed })
    })
}

async fn delete_comments(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    with_pick(&shared, &body, |saved, p| json!({ "deleted": saved.delete_comments(&p.ids) }))
}

/// `{"days": n}` (1 if absent): the simulator's day moves n days ahead; answers the new date.
async fn advance_day(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    #[derive(Debug, Default, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Days {
        days: Option<u32>,
    }
    match parse::<Days>(&body) {
        Ok(d) => {
            let mut world = lock(&shared.world);
            world.saved.day_offset += u64::from(d.days.unwrap_or(1));
            Json(json!({ "date": world.saved.day().format("%Y-%m-%d").to_string() })).into_response()
        }
        Err(message) => bad_request(message),
    }
}

async fn churn(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!({ "data": account_churn::changes(&shared) })).into_response()
}

async fn put_churn(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match parse::<Rates>(&body).and_then(|r| r.validate().map(|()| r)) {
        Ok(rates) => {
            account_churn::set_rates(&shared, rates);
            Json(rates).into_response()
        }
        Err(message) => bad_request(message),
    }
}
