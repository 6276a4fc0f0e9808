//! The bundles the simulator serves: stored by insertion (slot) and found by id
//! through a hash map, with one sorted index per list order, kept up to date on
//! every insert, delete and change, so a page never sorts or scans everything.
//! Inserts and changes emit their webhook events (see [`super::webhooks`]).

use std::cmp::Reverse;
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::bundle::{Bundle, Draft};
use super::filter::{Filtered, Symbols};
use super::sorted::Sorted;
use super::webhooks::Webhooks;
use super::webhooks::changes::{self, Before};

/// The orders, each a sorted set of keys ending with the slot.
#[derive(Debug, Clone, Default)]
pub struct Index {
    /// Insertion order, newest first (`newest_first`).
    pub newest: Sorted<Reverse<u32>>,
    /// `created_at` descending, ties newest inserted first (`created_at_unstable`).
    pub created: Sorted<(Reverse<i64>, Reverse<u32>)>,
    /// Id ascending (`id`).
    pub ids: Sorted<(Uuid, u32)>,
    pub symbols: Symbols,
    /// Bumped by every insert, delete and change (what a cached filtered list checks).
    pub version: u64,
}

impl Index {
    fn bundle(&mut self, draft: Draft) -> Bundle {
        let keys = self.symbols.keys_of(&draft.fields);
        let mut bundle = Bundle::new(draft);
        bundle.keys = keys;
        bundle
    }
}

#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Indexed by slot, in insertion order; a deleted bundle leaves `None`.
    slots: Vec<Option<Bundle>>,
    by_id: HashMap<Uuid, u32>,
    pub index: Index,
    pub(super) filtered: Filtered,
    /// Told of every insert and change, whoever makes it (none while seeding).
    pub webhooks: Option<Arc<Webhooks>>,
}

impl Dataset {
    /// `drafts` oldest first; the indexes are sorted once at the end.
    pub fn from_oldest_first(drafts: impl IntoIterator<Item = Draft>) -> Self {
        let mut data = Dataset::default();
        for draft in drafts {
            let bundle = data.index.bundle(draft);
            if let Some(old) = data.by_id.insert(bundle.id, data.slots.len() as u32) {
                data.slots[old as usize] = None;
            }
            data.slots.push(Some(bundle));
        }
        let live = || data.slots.iter().zip(0u32..).filter_map(|(b, slot)| Some((b.as_ref()?, slot)));
        data.index.newest = Sorted::from_items(live().map(|(_, slot)| Reverse(slot)).collect());
        data.index.created =
            Sorted::from_items(live().map(|(b, slot)| (Reverse(b.created_at()), Reverse(slot))).collect());
        data.index.ids = Sorted::from_items(live().map(|(b, slot)| (b.id, slot)).collect());
        data
    }

    pub fn len(&self) -> usize {
        self.index.newest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn slot(&self, slot: u32) -> Option<&Bundle> {
        self.slots.get(slot as usize)?.as_ref()
    }

    fn slot_of(&self, id: &str) -> Option<u32> {
        self.by_id.get(&Uuid::parse_str(id).ok()?).copied()
    }

    pub fn find(&self, id: &str) -> Option<&Bundle> {
        self.slot(self.slot_of(id)?)
    }

    /// A bundle to change; the indexes follow, and its webhook events are
    /// emitted, when the guard is dropped.
    pub fn find_mut(&mut self, id: &str) -> Option<BundleMut<'_>> {
        let slot = self.slot_of(id)?;
        let bundle = self.slots.get_mut(slot as usize)?.as_mut()?;
        let created_before = bundle.created_at();
        let webhooks = self.webhooks.as_deref().filter(|w| w.active());
        let before = webhooks.map(|_| Before::of(bundle));
        Some(BundleMut { bundle, index: &mut self.index, slot, created_before, webhooks, before })
    }

    /// Adds a bundle, the newest of the insertion order; returns its id.
    pub fn insert(&mut self, draft: Draft) -> String {
        let bundle = self.index.bundle(draft);
        self.index.version += 1;
        let slot = self.slots.len() as u32;
        if let Some(old) = self.by_id.insert(bundle.id, slot) {
            // A repeated id replaces the bundle that had it.
            self.unindex(old);
        }
        self.index.newest.insert(Reverse(slot));
        self.index.created.insert((Reverse(bundle.created_at()), Reverse(slot)));
        self.index.ids.insert((bundle.id, slot));
        let id = bundle.id.to_string();
        if let Some(webhooks) = self.webhooks.as_deref().filter(|w| w.active()) {
            webhooks.emit(changes::created(&bundle));
        }
        self.slots.push(Some(bundle));
        id
    }

    fn unindex(&mut self, slot: u32) -> Option<Bundle> {
        let bundle = self.slots.get_mut(slot as usize)?.take()?;
        self.index.version += 1;
        self.index.newest.remove(&Reverse(slot));
        self.index.created.remove(&(Reverse(bundle.created_at()), Reverse(slot)));
        self.index.ids.remove(&(bundle.id, slot));
        Some(bundle)
    }

    pub fn remove(&mut self, id: &str) -> bool {
        let Some(slot) = Uuid::parse_str(id).ok().and_then(|id| self.by_id.remove(&id)) else { return false };
        self.unindex(slot).is_some()
    }

    /// Now, or a second after the newest `created_at` if the clock is behind
    /// it, so new bundles sort first in every `created_at` order.
    pub fn next_created_at(&self) -> DateTime<Utc> {
        let now = Utc::now();
        let now = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        let newest = self.index.created.first().and_then(|(Reverse(micros), _)| {
            DateTime::from_timestamp_micros(micros)?.checked_add_signed(chrono::Duration::seconds(1))
        });
        newest.map_or(now, |newest| newest.max(now))
    }

    /// The bundle at rank `n` of the insertion order, newest first.
    pub fn nth_newest(&self, n: usize) -> Option<&Bundle> {
        self.slot(self.index.newest.nth(n)?.0)
    }
}

/// A bundle being changed: on drop, its `created_at` and filter keys are
/// re-indexed from whatever the change left in its list item.
#[derive(Debug)]
pub struct BundleMut<'a> {
    bundle: &'a mut Bundle,
    index: &'a mut Index,
    slot: u32,
    created_before: i64,
    webhooks: Option<&'a Webhooks>,
    /// The bundle before the change, when an endpoint may want its events.
    before: Option<Before>,
}

impl Deref for BundleMut<'_> {
    type Target = Bundle;

    fn deref(&self) -> &Bundle {
        self.bundle
    }
}

impl DerefMut for BundleMut<'_> {
    fn deref_mut(&mut self) -> &mut Bundle {
        self.bundle
    }
}

impl Drop for BundleMut<'_> {
    fn drop(&mut self) {
        self.index.version += 1;
        let created = self.bundle.created_at();
        if created != self.created_before {
            self.index.created.remove(&(Reverse(self.created_before), Reverse(self.slot)));
            self.index.created.insert((Reverse(created), Reverse(self.slot)));
        }
        self.bundle.keys = self.index.symbols.keys_of(&self.bundle.fields());
        if let (Some(webhooks), Some(before)) = (self.webhooks, self.before.take()) {
            for change in changes::changed(&before, self.bundle) {
                webhooks.emit(change);
            }
        }
    }
}
