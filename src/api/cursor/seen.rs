//! The set of ids a walk has delivered, kept outside the [`Cursor`] so it can
//! live where the caller keeps its rows: in memory for `worker get` and the
//! demo ([`MemorySeen`]), in a Postgres table for the mirror, looked up and
//! written in the same transaction as the page it belongs to. The cursor only
//! ever needs the ids of the page in hand ([`Known`]) and says what to record
//! ([`Absorbed`]).
//!
//! [`Cursor`]: super::Cursor

use std::collections::HashMap;

use super::Page;

/// What the caller's seen set knows of the ids on one page: each id already
/// seen in this walk, and whether it is an anchor (an item known to lie before
/// every item the walk has yet to deliver). Ids it has never seen are absent.
pub type Known = HashMap<String, bool>;

/// A page taken in by the cursor, and what the seen set must record for it.
#[derive(Debug, Clone)]
pub struct Absorbed {
    /// The items not delivered before, with the page's statistics.
    pub page: Page,
    /// Ids to add to the seen set, with their anchor flag.
    pub new_ids: Vec<(String, bool)>,
    /// Ids already in the seen set that are now anchors.
    pub anchors: Vec<String>,
}

/// The seen set in memory: about 140 bytes a delivered id.
#[derive(Debug, Default)]
pub struct MemorySeen {
    ids: HashMap<String, bool>,
}

impl MemorySeen {
    pub fn new() -> MemorySeen {
        MemorySeen::default()
    }

    /// What the set knows of `ids` (the ids of one page, in any order).
    pub fn lookup(&self, ids: &[String]) -> Known {
        ids.iter().filter_map(|id| self.ids.get(id).map(|&anchor| (id.clone(), anchor))).collect()
    }

    /// Records what the cursor decided for one page.
    pub fn apply(&mut self, absorbed: &Absorbed) {
        for (id, anchor) in &absorbed.new_ids {
            let flag = self.ids.entry(id.clone()).or_insert(*anchor);
            *flag |= *anchor;
        }
        for id in &absorbed.anchors {
            if let Some(flag) = self.ids.get_mut(id) {
                *flag = true;
            }
        }
    }

    /// How many ids the walk has delivered.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}
