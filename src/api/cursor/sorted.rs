//! One page split by what the walk's seen set knows of its ids: the items to
//! deliver, the ids to record, and whether the page holds an anchor, which is
//! what tells the cursor that nothing unread can lie before the page.

use std::collections::HashSet;

use serde_json::Value;

use super::Known;
use crate::api::model::item_id;

/// One page split by what the seen set knows.
pub(super) struct Sorted {
    /// Items not delivered before (and items without an id).
    pub(super) items: Vec<Value>,
    pub(super) duplicates: usize,
    pub(super) holds_anchor: bool,
    /// Ids first seen on this page, with their anchor flag.
    pub(super) new_ids: Vec<(String, bool)>,
    /// Ids seen before on other pages, not anchors (yet).
    pub(super) unanchored: Vec<String>,
    /// Ids already seen that become anchors with this page.
    pub(super) anchors: Vec<String>,
}

impl Sorted {
    pub(super) fn of(data: Vec<Value>, known: &Known) -> Sorted {
        let mut sorted = Sorted {
            items: Vec::with_capacity(data.len()),
            duplicates: 0,
            holds_anchor: false,
            new_ids: Vec::new(),
            unanchored: Vec::new(),
            anchors: Vec::new(),
        };
        // An id twice on one page is delivered and recorded once.
        let mut here: HashSet<String> = HashSet::new();
        for item in data {
            let Some(id) = item_id(&item) else {
                sorted.items.push(item);
                continue;
            };
            if !here.insert(id.clone()) {
                sorted.duplicates += 1;
            } else if let Some(&anchor) = known.get(&id) {
                sorted.duplicates += 1;
                sorted.holds_anchor |= anchor;
                if !anchor {
                    sorted.unanchored.push(id);
                }
            } else {
                sorted.new_ids.push((id, false));
                sorted.items.push(item);
            }
        }
        sorted
    }
}
