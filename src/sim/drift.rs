//! Data changes while clients walk: bundles inserted (the newest), deleted or
//! changed, on demand (admin, in-process handle) or every N list requests.

use serde_json::{Map, Value, json};

use super::faults::DriftKind;
use super::seed;
use super::state::World;
use super::vocab::STATUSES;

/// Inserts `count` new `pending_setup` bundles, each newer than every other,
/// or all sharing one `created_at` (newer than every other) with `same_created_at`.
pub fn insert(world: &mut World, count: usize, same_created_at: bool) -> Vec<String> {
    let shared_at = world.data.next_created_at();
    (0..count)
        .map(|i| {
            let at = if same_created_at { shared_at } else { world.data.next_created_at() };
            let spec = seed::random_spec(&mut world.rng, i, 10);
            let draft = seed::build(&mut world.rng, &spec, "pending_setup", at);
            world.data.insert(draft)
        })
        .collect()
}

pub fn delete(world: &mut World, ids: &[String]) -> Vec<String> {
    ids.iter().filter(|id| world.data.remove(id)).cloned().collect()
}

/// Picks `count` distinct existing ids with the world's PRNG.
pub fn pick(world: &mut World, count: usize) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    let len = world.data.len();
    while ids.len() < count.min(len) {
        let Some(bundle) = world.data.nth_newest(world.rng.below(len as u64) as usize) else { break };
        let id = bundle.id.to_string();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

/// Sets fields of one bundle; `id` cannot be changed. False if there is no such bundle.
pub fn change(world: &mut World, id: &str, set: &Map<String, Value>) -> bool {
    let Some(mut bundle) = world.data.find_mut(id) else { return false };
    bundle.set_all(set);
    true
}

/// A change a real account sees: a new status and an edited title.
pub fn change_randomly(world: &mut World, id: &str) -> bool {
    let status = STATUSES[world.rng.below(STATUSES.len() as u64) as usize];
    let Some(bundle) = world.data.find(id) else { return false };
    let title = format!("{} (edited)", bundle.str_field("title").as_deref().unwrap_or("untitled"));
    let mut set = Map::new();
    set.insert("status".into(), json!(status));
    set.insert("title".into(), json!(title));
    change(world, id, &set)
}

/// One automatic drift event.
pub fn once(world: &mut World, kind: DriftKind) {
    let kind = match kind {
        DriftKind::Mixed => {
            [DriftKind::Insert, DriftKind::Delete, DriftKind::Change][world.rng.below(3) as usize]
        }
        other => other,
    };
    match kind {
        DriftKind::Insert | DriftKind::Mixed => {
            insert(world, 1, false);
        }
        DriftKind::Delete => {
            let ids = pick(world, 1);
            delete(world, &ids);
        }
        DriftKind::Change => {
            for id in pick(world, 1) {
                change_randomly(world, &id);
            }
        }
    }
}
