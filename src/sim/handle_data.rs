//! What a test can read and change in a running simulator's bundles through
//! its [`SimServer`] handle: what the endpoints serve (to compare a mirror
//! with), and inserts, deletes and changes of bundles and of their children.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::control::{self, BundleSnapshot};
use super::handle::SimServer;

impl SimServer {
    /// Every bundle (with slots and account) newest first, and each key's balance and history.
    pub fn dataset(&self) -> Value {
        control::dataset(&self.shared)
    }

    /// Every bundle by id: its list item exactly as `GET /bundles` serves it,
    /// and `data` of `GET /bundles/{id}/videos` and `/account`.
    pub fn snapshot(&self) -> BTreeMap<String, BundleSnapshot> {
        control::snapshot(&self.shared)
    }

    /// Every bundle's list item exactly as `GET /bundles` serves it, by id.
    pub fn list_items(&self) -> BTreeMap<String, Value> {
        self.snapshot().into_iter().map(|(id, b)| (id, b.item)).collect()
    }

    /// One bundle as the endpoints serve it; `None` if there is no such bundle.
    pub fn bundle(&self, id: &str) -> Option<BundleSnapshot> {
        control::snapshot_of(&self.shared, id)
    }

    /// `data` of `GET /bundles/{id}/videos` (a JSON array).
    pub fn bundle_videos(&self, id: &str) -> Option<Value> {
        self.bundle(id).map(|b| b.videos)
    }

    /// `data` of `GET /bundles/{id}/account` (a JSON object).
    pub fn bundle_account(&self, id: &str) -> Option<Value> {
        self.bundle(id).map(|b| b.account)
    }

    /// Ids of every bundle in the order `GET /bundles` serves under the current
    /// `order` knob (groups of `created_at_unstable` in their unshuffled order,
    /// newest inserted first).
    pub fn bundle_ids(&self) -> Vec<String> {
        control::ids(&self.shared)
    }

    /// Inserts `count` new bundles, each newer than every other; returns their ids.
    pub fn insert_bundles(&self, count: usize) -> Vec<String> {
        control::insert(&self.shared, count, false)
    }

    /// Inserts `count` new bundles sharing one `created_at`, newer than every
    /// other (like one bulk creation); returns their ids.
    pub fn insert_bundles_same_created_at(&self, count: usize) -> Vec<String> {
        control::insert(&self.shared, count, true)
    }

    /// Deletes these bundles; returns the ids that existed.
    pub fn delete_bundles(&self, ids: &[String]) -> Vec<String> {
        control::delete(&self.shared, ids, 0)
    }

    /// Sets fields of one bundle's list item (anything but `id`; a new
    /// `created_at` moves it in the `created_at` order). False if there is no such bundle.
    pub fn change_bundle(&self, id: &str, set: Map<String, Value>) -> bool {
        !control::change(&self.shared, &[id.to_string()], &set, 0).is_empty()
    }

    /// Sets fields (any, `status` included) of the video slot at 1-based
    /// `position`. Only the slot changes, not the list item. False if there is
    /// no such bundle or slot.
    pub fn change_video(&self, id: &str, position: usize, set: Map<String, Value>) -> bool {
        control::change_video(&self.shared, id, position, &set)
    }

    /// Replaces all of a bundle's video slots (to add or remove some). Only the
    /// slots change, not the list item. False if there is no such bundle.
    pub fn set_videos(&self, id: &str, videos: Vec<Value>) -> bool {
        control::set_videos(&self.shared, id, videos)
    }

    /// Sets fields (any) of a bundle's account. Only the account changes, not
    /// the list item. False if there is no such bundle.
    pub fn change_account(&self, id: &str, set: Map<String, Value>) -> bool {
        control::change_account(&self.shared, id, &set)
    }
}
