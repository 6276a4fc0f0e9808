//! What a test can read and change of the delivered accounts, their bans and
//! comment tasks through the [`SimServer`] handle: the items exactly as the
//! endpoints serve them (to compare a mirror with), and the changes drift makes.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::handle::SimServer;
use super::lock::lock;
use super::saved::analytics;
use super::saved::clock::now_millis;

impl SimServer {
    /// Every account by id, exactly as `GET /accounts` serves it.
    pub fn saved_accounts(&self) -> BTreeMap<String, Value> {
        let world = lock(&self.shared.world);
        world.saved.pool.accounts.newest_first().map(|a| (a.id.to_string(), a.item())).collect()
    }

    /// `data` of `GET /accounts/{id}/analytics` on the simulator's day; `None` if no such account.
    pub fn analytics(&self, account_id: &str) -> Option<Value> {
        let world = lock(&self.shared.world);
        let account = world.saved.pool.accounts.find(account_id)?;
        Some(analytics::of(&account.id, world.saved.day()))
    }

    /// Moves the simulator's day `days` ahead (what analytics are of); a reset moves it back to today.
    pub fn advance_day(&self, days: u32) {
        lock(&self.shared.world).saved.day_offset += u64::from(days);
    }

    /// Removes accounts (their bans and comment tasks stay); the ids that existed.
    pub fn delete_saved_accounts(&self, ids: &[String]) -> Vec<String> {
        lock(&self.shared.world).saved.delete_accounts(ids)
    }

    /// Sets fields (any but `id`) of an account's item. False if there is no such account.
    pub fn change_saved_account(&self, id: &str, set: Map<String, Value>) -> bool {
        lock(&self.shared.world).saved.change_account(id, &set)
    }

    /// Every ban by id, exactly as `GET /account-bans` serves it (without `include_screenshots`).
    pub fn account_bans(&self) -> BTreeMap<String, Value> {
        let world = lock(&self.shared.world);
        world.saved.bans.newest_first().map(|b| (b.id.to_string(), b.item(false))).collect()
    }

    /// Every comment task by id, exactly as `GET /comments` serves it.
    pub fn comments(&self) -> BTreeMap<String, Value> {
        let world = lock(&self.shared.world);
        world.saved.comments.newest_first().map(|c| (c.id.to_string(), c.item())).collect()
    }

    /// Bans an account that is not banned: a new `open` ban (its id), the
    /// account `banned` from now. `None` if no such account or banned already.
    pub fn ban_saved_account(&self, id: &str) -> Option<String> {
        lock(&self.shared.world).saved.ban(id, now_millis())
    }

    /// Sets fields of a ban (not `id`) and bumps its `updated_at` to now; a ban
    /// resolved `reinstated` lifts its account's ban. False if there is no such ban.
    pub fn change_ban(&self, id: &str, set: Map<String, Value>) -> bool {
        lock(&self.shared.world).saved.change_ban(id, &set, now_millis())
    }

    /// Sets fields of a comment task (not `id`) and bumps its `updated_at` to now.
    /// False if there is no such task.
    pub fn change_comment(&self, id: &str, set: Map<String, Value>) -> bool {
        lock(&self.shared.world).saved.change_comment(id, &set, now_millis())
    }

    /// Adds `count` `pending` comment tasks from random accounts, the newest; their ids.
    pub fn insert_comments(&self, count: usize) -> Vec<String> {
        lock(&self.shared.world).saved.insert_comments(count, now_millis())
    }

    /// Deletes comment tasks; the ids that existed.
    pub fn delete_comments(&self, ids: &[String]) -> Vec<String> {
        lock(&self.shared.world).saved.delete_comments(ids)
    }
}
