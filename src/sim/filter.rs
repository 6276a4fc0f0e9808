//! What a list of bundles asks for: its order and its filters, the filter
//! values interned (a bundle keeps five `u32`s instead of five strings), a
//! filter in those keys, and the entries the last filtered list found.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::bundle::Bundle;
use super::vocab::{FILTER_FIELDS, NO_SYMBOL};

/// The order of `GET /bundles` (the reference documents none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListOrder {
    /// Insertion order, newest first: `created_at` descending, and among
    /// bundles sharing one `created_at`, the last inserted first. Stable.
    #[default]
    NewestFirst,
    /// `created_at` descending, but bundles sharing one `created_at` come in a
    /// fresh order (seeded PRNG) on every request.
    CreatedAtUnstable,
    /// Id ascending, so new bundles land anywhere in the list.
    Id,
    /// Newest first, but as if the two bundles on either side of each page
    /// edge shared their sort key: each response swaps them or not at random
    /// (seeded PRNG), so a walk in small pages misses (and repeats) a
    /// neighbour at about half the page edges, differently on every walk.
    /// The reference documents no order; a real list sorted by a key with
    /// ties can do this, and only a row the API says is gone may be deleted.
    EdgeSwaps,
}

/// Exact-match filters of `GET /bundles`; `status` may list several values.
#[derive(Debug, Default, Clone)]
pub struct BundleFilter {
    pub status: Option<Vec<String>>,
    pub platform: Option<String>,
    pub bundle_type: Option<String>,
    pub external_ref: Option<String>,
    pub account_status: Option<String>,
}

/// Filter values, interned: a bundle keeps five `u32`s instead of five strings.
#[derive(Debug, Clone, Default)]
pub struct Symbols(HashMap<Box<str>, u32>);

impl Symbols {
    pub fn get(&self, value: &str) -> Option<u32> {
        self.0.get(value).copied()
    }

    fn intern(&mut self, value: &str) -> u32 {
        if let Some(symbol) = self.get(value) {
            return symbol;
        }
        let symbol = u32::try_from(self.0.len()).unwrap_or(NO_SYMBOL - 1).min(NO_SYMBOL - 1);
        self.0.insert(value.into(), symbol);
        symbol
    }

    pub(super) fn keys_of(&mut self, fields: &Map<String, Value>) -> [u32; 5] {
        FILTER_FIELDS
            .map(|name| fields.get(name).and_then(Value::as_str).map_or(NO_SYMBOL, |v| self.intern(v)))
    }
}

/// A filter in interned keys: per field, the keys accepted (`None`: any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted([Option<Vec<u32>>; 5]);

/// The entries of the last filtered list, kept while the filter, the order and
/// the data stay the same: a walk of a filtered list scans the dataset once,
/// not once a page.
#[derive(Debug, Clone, Default)]
pub struct Filtered {
    pub(super) key: Option<(Wanted, ListOrder, u64)>,
    pub(super) entries: Vec<(i64, u32)>,
}

impl Wanted {
    /// `None` when nothing is filtered.
    pub(super) fn of(filter: &BundleFilter, symbols: &Symbols) -> Option<Wanted> {
        let one = |value: &Option<String>| value.clone().map(|v| vec![v]);
        let fields = [
            filter.status.clone(),
            one(&filter.platform),
            one(&filter.bundle_type),
            one(&filter.external_ref),
            one(&filter.account_status),
        ];
        let wanted = fields.map(|values| values.map(|vs| vs.iter().filter_map(|v| symbols.get(v)).collect()));
        wanted.iter().any(Option::is_some).then_some(Wanted(wanted))
    }

    pub(super) fn matches(&self, bundle: &Bundle) -> bool {
        self.0.iter().zip(bundle.keys).all(|(want, key)| want.as_ref().is_none_or(|w| w.contains(&key)))
    }
}
