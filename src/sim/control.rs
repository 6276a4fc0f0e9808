//! Controlling a running simulator: per-key stats, the ledger, the dataset,
//! faults, data changes, bucket draining and reset. The admin endpoints and
//! the in-process `SimServer` methods both call these.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::bundle::Bundle;
use super::drift;
use super::faults::{Faults, FaultsFired};
use super::filter::ListOrder;
use super::ledger::LedgerEntry;
use super::lock::lock;
use super::state::Shared;

/// One key's numbers. Keys appear only as fingerprints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyStats {
    pub fingerprint: String,
    pub read_only: bool,
    pub requests: u64,
    pub rate_limited: u64,
    pub replays: u64,
    pub executions: u64,
    pub in_flight: u64,
    pub credits: i64,
    pub credits_debited: i64,
    /// Tokens in the bucket now (negative while drained).
    pub tokens: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimStats {
    pub keys: Vec<KeyStats>,
    pub faults_fired: FaultsFired,
    /// `GET /bundles` requests served (what `drift_every` counts).
    pub list_requests: u64,
    /// Requests answered 401: a refused key is told once, not once a stream.
    pub refused: u64,
}

pub fn stats(shared: &Shared) -> SimStats {
    let world = lock(&shared.world);
    let now = Instant::now();
    let mut keys: Vec<_> = shared.keys.values().collect();
    keys.sort_by_key(|k| k.index);
    let keys = keys
        .into_iter()
        .map(|key| {
            let counters = *lock(&key.counters);
            let account = &world.accounts[key.index];
            KeyStats {
                fingerprint: key.fingerprint.clone(),
                read_only: key.read_only,
                requests: counters.requests,
                rate_limited: counters.rate_limited,
                replays: counters.replays,
                executions: counters.executions,
                in_flight: counters.in_flight,
                credits: account.credits,
                credits_debited: account.debited,
                tokens: if shared.config.rate_limit {
                    lock(&key.bucket).tokens_at(now)
                } else {
                    f64::from(shared.config.burst)
                },
            }
        })
        .collect();
    SimStats {
        keys,
        faults_fired: lock(&shared.fired).clone(),
        list_requests: shared.list_requests.load(std::sync::atomic::Ordering::Relaxed),
        refused: shared.refused.load(std::sync::atomic::Ordering::Relaxed),
    }
}

pub fn ledger(shared: &Shared) -> Vec<LedgerEntry> {
    lock(&shared.world).ledger.clone()
}

/// Everything the simulator holds: bundles (with slots and account) newest
/// first (insertion order, whatever the `order` knob), and each key's balance and history.
pub fn dataset(shared: &Shared) -> Value {
    let world = lock(&shared.world);
    let mut keys: Vec<_> = shared.keys.values().collect();
    keys.sort_by_key(|k| k.index);
    let credits: Vec<Value> = keys
        .iter()
        .map(|k| {
            let account = &world.accounts[k.index];
            json!({ "fingerprint": k.fingerprint, "balance": account.credits, "history": account.history })
        })
        .collect();
    let bundles: Vec<Value> = world.data.ordered(ListOrder::NewestFirst).map(Bundle::detail).collect();
    json!({ "bundles": bundles, "credits": credits })
}

pub fn set_faults(shared: &Shared, faults: Faults) -> Result<(), String> {
    faults.validate()?;
    *lock(&shared.faults) = faults;
    Ok(())
}

/// Changes some knobs: read, change, validate and write under one lock, so a
/// counted knob (`fail_next`, …) a request consumes meanwhile is never restored.
/// Returns the new settings; on `Err` nothing changed.
pub fn update_faults(
    shared: &Shared,
    change: impl FnOnce(&mut Faults) -> Result<(), String>,
) -> Result<Faults, String> {
    let mut current = lock(&shared.faults);
    let mut faults = current.clone();
    change(&mut faults)?;
    faults.validate()?;
    *current = faults.clone();
    Ok(faults)
}

/// Lets every mutation held by `slow_ms` execute now.
pub fn release_slow(shared: &Shared) {
    shared.release.send_modify(|n| *n += 1);
}

/// The longest drain: a year of 429s is a storm long enough for any test.
pub const MAX_DRAIN_SECS: u64 = 365 * 24 * 60 * 60;

/// Drains the bucket of the key with this fingerprint for `hold` (at most
/// [`MAX_DRAIN_SECS`]). False if no such key.
pub fn drain(shared: &Shared, fingerprint: &str, hold: Duration) -> bool {
    match shared.key_by_fingerprint(fingerprint) {
        Some(key) => {
            let hold = hold.min(Duration::from_secs(MAX_DRAIN_SECS));
            lock(&key.bucket).drain(Instant::now(), hold);
            true
        }
        None => false,
    }
}

/// Bundles one admin `delete` or `change` with a `count` may touch: picking
/// them is quadratic in the count.
pub const MAX_PICK: usize = 10_000;

/// Whether `count` more bundles fit under [`MAX_BUNDLES`](super::config::MAX_BUNDLES).
pub fn room_for(shared: &Shared, count: usize) -> Result<(), String> {
    let max = super::config::MAX_BUNDLES;
    let len = lock(&shared.world).data.len();
    if count > max.saturating_sub(len) {
        return Err(format!(
            "cannot insert {count} bundles: the simulator holds at most {max} and has {len}"
        ));
    }
    Ok(())
}

pub fn insert(shared: &Shared, count: usize, same_created_at: bool) -> Vec<String> {
    drift::insert(&mut lock(&shared.world), count, same_created_at)
}

/// Deletes the given ids, or `count` random bundles when `ids` is empty.
pub fn delete(shared: &Shared, ids: &[String], count: usize) -> Vec<String> {
    let mut world = lock(&shared.world);
    let ids = if ids.is_empty() { drift::pick(&mut world, count) } else { ids.to_vec() };
    drift::delete(&mut world, &ids)
}

/// Sets `set` on the given ids, or makes a random change to `count` random bundles.
pub fn change(shared: &Shared, ids: &[String], set: &Map<String, Value>, count: usize) -> Vec<String> {
    let mut world = lock(&shared.world);
    if ids.is_empty() {
        let ids = drift::pick(&mut world, count);
        ids.into_iter().filter(|id| drift::change_randomly(&mut world, id)).collect()
    } else {
        ids.iter().filter(|id| drift::change(&mut world, id, set)).cloned().collect()
    }
}

/// One bundle exactly as the endpoints serve it: the list item of
/// `GET /bundles`, and `data` of `GET /bundles/{id}/videos` and `/account`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BundleSnapshot {
    pub item: Value,
    pub videos: Value,
    pub account: Value,
}

impl BundleSnapshot {
    fn of(bundle: &Bundle) -> Self {
        BundleSnapshot {
            item: Value::Object(bundle.fields()),
            videos: Value::Array(bundle.videos()),
            account: bundle.account(),
        }
    }
}

pub fn snapshot(shared: &Shared) -> BTreeMap<String, BundleSnapshot> {
    let world = lock(&shared.world);
    world.data.ordered(ListOrder::Id).map(|b| (b.id.to_string(), BundleSnapshot::of(b))).collect()
}

pub fn snapshot_of(shared: &Shared, id: &str) -> Option<BundleSnapshot> {
    lock(&shared.world).data.find(id).map(BundleSnapshot::of)
}

/// Ids in the order `GET /bundles` serves now (`created_at_unstable` groups unshuffled).
pub fn ids(shared: &Shared) -> Vec<String> {
    let order = lock(&shared.faults).order;
    lock(&shared.world).data.ordered(order).map(|b| b.id.to_string()).collect()
}

/// Sets fields of the video slot at 1-based `position` (any field, status
/// included); the list item is left as it is. False if no such bundle or slot.
pub fn change_video(shared: &Shared, id: &str, position: usize, set: &Map<String, Value>) -> bool {
    let mut world = lock(&shared.world);
    let Some(mut bundle) = world.data.find_mut(id) else { return false };
    let slot = position.checked_sub(1).and_then(|i| bundle.children_mut().videos.get_mut(i));
    match slot.and_then(Value::as_object_mut) {
        Some(slot) => {
            slot.extend(set.clone());
            true
        }
        None => false,
    }
}

/// Replaces every video slot of a bundle; the list item is left as it is.
pub fn set_videos(shared: &Shared, id: &str, videos: Vec<Value>) -> bool {
    let mut world = lock(&shared.world);
    let Some(mut bundle) = world.data.find_mut(id) else { return false };
    bundle.children_mut().videos = videos;
    true
}

/// Sets fields of a bundle's account (any field); the list item is left as it is.
pub fn change_account(shared: &Shared, id: &str, set: &Map<String, Value>) -> bool {
    let mut world = lock(&shared.world);
    let Some(mut bundle) = world.data.find_mut(id) else { return false };
    match &mut bundle.children_mut().account {
        Value::Object(account) => account.extend(set.clone()),
        account => *account = Value::Object(set.clone()),
    }
    true
}
