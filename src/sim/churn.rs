//! Steady change (`/__sim/churn`): `per_second` changes a second, each to a
//! random bundle: a new status (the list item), or one video slot, or the
//! account (children only), each stamped with `updated_at` = the time of the
//! change, and logged, so a benchmark can tell when a mirror showed it.
//!
//! Changes are applied when a request comes (any API request, or reading the
//! log), each at its own scheduled time: whoever asks after that time sees
//! it, exactly as if a process had made it then.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::control;
use super::drift;
use super::lock::lock;
use super::state::Shared;
use super::vocab::STATUSES;

/// Most changes applied by one request (a long pause is caught up over several).
const MAX_CATCH_UP: usize = 100_000;

/// Statuses after which a bundle's slots and account no longer move.
const TERMINAL: [&str; 3] = ["completed", "cancelled", "archived"];

#[derive(Debug, Default)]
pub struct Churn {
    per_second: f64,
    /// Unix seconds of the next change.
    next_at: f64,
    log: Vec<Change>,
}

/// One change made.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// Unix seconds.
    pub at: f64,
    /// `status`, `slot` or `account`.
    pub kind: &'static str,
    pub bundle_id: String,
    /// The slot's 1-based position (`slot` only).
    pub position: Option<usize>,
    /// The `updated_at` the change wrote.
    pub marker: String,
    /// The bundle's status is terminal after the change.
    pub terminal: bool,
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

fn stamp(at: f64) -> String {
    let at = chrono::DateTime::from_timestamp_micros((at * 1e6) as i64).unwrap_or_default();
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Sets the rate (0 stops), from now on.
pub fn set_rate(shared: &Shared, per_second: f64) {
    catch_up(shared);
    let mut churn = lock(&shared.churn);
    churn.per_second = per_second.max(0.0);
    churn.next_at = unix_now() + if per_second > 0.0 { 1.0 / per_second } else { 0.0 };
}

/// The changes made so far (the log is kept whole).
pub fn changes(shared: &Shared) -> Vec<Change> {
    catch_up(shared);
    lock(&shared.churn).log.clone()
}

/// Makes every change whose time has come.
pub fn catch_up(shared: &Shared) {
    let mut churn = lock(&shared.churn);
    if churn.per_second <= 0.0 {
        return;
    }
    let now = unix_now();
    for _ in 0..MAX_CATCH_UP {
        if churn.next_at > now {
            break;
        }
        let at = churn.next_at;
        churn.next_at += 1.0 / churn.per_second;
        if let Some(change) = one(shared, at) {
            churn.log.push(change);
        }
    }
}

fn one(shared: &Shared, at: f64) -> Option<Change> {
    let marker = stamp(at);
    let stamped = |mut set: Map<String, Value>| {
        set.insert("updated_at".into(), json!(marker));
        set
    };
    let (id, kind, status, slots) = {
        let mut world = lock(&shared.world);
        let id = drift::pick(&mut world, 1).pop()?;
        let kind = world.rng.below(3);
        let new_status = STATUSES[world.rng.below(STATUSES.len() as u64) as usize];
        let draw = world.rng.below(u64::from(u32::MAX));
        let bundle = world.data.find(&id)?;
        let slots = bundle.videos().len();
        let status = bundle.str_field("status").unwrap_or_default();
        let position = if slots > 0 { 1 + (draw % slots as u64) as usize } else { 0 };
        match kind {
            0 => (id, "status", new_status.to_string(), 0),
            1 if position > 0 => (id, "slot", status, position),
            _ => (id, "account", status, 0),
        }
    };
    let done = match kind {
        "status" => {
            let mut world = lock(&shared.world);
            drift::change(&mut world, &id, &stamped(Map::from_iter([("status".into(), json!(status))])))
        }
        "slot" => control::change_video(shared, &id, slots, &stamped(Map::new())),
        _ => control::change_account(shared, &id, &stamped(Map::new())),
    };
    done.then(|| Change {
        at,
        kind,
        bundle_id: id,
        position: (kind == "slot").then_some(slots),
        marker,
        terminal: TERMINAL.contains(&status.as_str()),
    })
}
