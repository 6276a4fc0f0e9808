//! One table of records found by id: rows kept oldest first (so a list
//! newest first reads them backwards), a deleted row leaving `None`, and an
//! id index. Accounts, bans and comments are each one of these.

use std::collections::HashMap;

use serde_json::{Map, Value};
use uuid::Uuid;

/// What a table holds: a record with a UUID.
pub trait Record {
    fn id(&self) -> Uuid;
}

#[derive(Debug, Clone)]
pub struct Table<T> {
    rows: Vec<Option<T>>,
    by_id: HashMap<Uuid, u32>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table { rows: Vec::new(), by_id: HashMap::new() }
    }
}

impl<T: Record> Table<T> {
    /// `rows` oldest first.
    pub fn from_oldest_first(rows: Vec<T>) -> Self {
        let mut table =
            Table { rows: Vec::with_capacity(rows.len()), by_id: HashMap::with_capacity(rows.len()) };
        for row in rows {
            table.push(row);
        }
        table
    }

    /// Adds a row, the newest.
    pub fn push(&mut self, row: T) {
        let slot = u32::try_from(self.rows.len()).expect("fewer than 2^32 rows");
        if let Some(old) = self.by_id.insert(row.id(), slot) {
            self.rows[old as usize] = None;
        }
        self.rows.push(Some(row));
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    fn slot_of(&self, id: &str) -> Option<usize> {
        self.by_id.get(&Uuid::parse_str(id).ok()?).map(|slot| *slot as usize)
    }

    pub fn find(&self, id: &str) -> Option<&T> {
        self.rows.get(self.slot_of(id)?)?.as_ref()
    }

    pub fn find_mut(&mut self, id: &str) -> Option<&mut T> {
        let slot = self.slot_of(id)?;
        self.rows.get_mut(slot)?.as_mut()
    }

    pub fn contains(&self, id: &Uuid) -> bool {
        self.by_id.contains_key(id)
    }

    pub fn remove(&mut self, id: &str) -> bool {
        let Some(slot) = Uuid::parse_str(id).ok().and_then(|id| self.by_id.remove(&id)) else { return false };
        self.rows[slot as usize].take().is_some()
    }

    /// Live rows, newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &T> {
        self.rows.iter().rev().flatten()
    }

    /// Live rows, newest first, to change.
    pub fn newest_first_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.rows.iter_mut().rev().flatten()
    }

    /// The row in slot `draw % slots`, if it is live: a draw at random in
    /// constant time (a caller that finds a deleted slot draws again).
    pub fn at_random(&self, draw: u64) -> Option<&T> {
        let slots = self.rows.len() as u64;
        if slots == 0 {
            return None;
        }
        self.rows[(draw % slots) as usize].as_ref()
    }
}

/// Fields a change set over the generated item (`id` and what the record
/// keeps typed are never in it). Boxed and absent until a first change, so an
/// unchanged record costs one pointer.
pub type Overlay = Option<Box<Map<String, Value>>>;

/// Sets `set` over `overlay`, except the `skip`ped names.
pub fn set_over(overlay: &mut Overlay, set: &Map<String, Value>, skip: &[&str]) {
    let fields = overlay.get_or_insert_with(Box::default);
    for (name, value) in set.iter().filter(|(name, _)| !skip.contains(&name.as_str())) {
        fields.insert(name.clone(), value.clone());
    }
}

/// Removes `names` from `overlay` (what a typed change now says instead).
pub fn unset(overlay: &mut Overlay, names: &[&str]) {
    if let Some(fields) = overlay {
        for name in names {
            fields.remove(*name);
        }
    }
}

/// The item with the overlay's fields over it.
pub fn apply(mut item: Map<String, Value>, overlay: &Overlay) -> Value {
    if let Some(fields) = overlay {
        item.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    Value::Object(item)
}

/// Whether a field (from the overlay if it sets it, else `typed`) is the string `wanted`.
pub fn is(overlay: &Overlay, name: &str, typed: Option<&str>, wanted: &str) -> bool {
    match overlay.as_ref().and_then(|o| o.get(name)) {
        Some(value) => value.as_str() == Some(wanted),
        None => typed == Some(wanted),
    }
}
