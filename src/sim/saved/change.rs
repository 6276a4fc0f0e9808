//! Changes of the saved accounts' data, whoever makes them (the handle, the
//! admin endpoints, churn): an account banned (a new ban), a ban moving
//! towards its resolution (a reinstatement lifts the account's ban), a comment
//! task moving along its statuses, tasks added or removed, accounts changed
//! or removed. Every change of a ban or a task moves its `updated_at` to the
//! time of the change, `at` (unix milliseconds): now, or the time churn
//! scheduled it for.

use serde_json::{Map, Value, json};

use super::Saved;
use super::bans::{Ban, REASONS, RESOLUTIONS};
use super::comments::Comment;
use super::pool::SavedAccount;
use super::table::Table;
use crate::sim::rng::Rng;

impl Saved {
    /// Bans an account that is not banned: a new `open` ban, the account
    /// `banned` from now. `None` if there is no such account or it is banned already.
    pub fn ban(&mut self, account_id: &str, at: i64) -> Option<String> {
        let now = at.div_euclid(1000);
        let account = self.pool.accounts.find_mut(account_id)?;
        if account.is_banned() {
            return None;
        }
        account.ban(now);
        let account_id = account.id;
        let ban = Ban {
            id: self.rng.uuid(),
            account_id,
            status: "open",
            resolution: None,
            reason: REASONS[self.rng.below(REASONS.len() as u64) as usize],
            banned_at: now,
            created_at: now,
            updated_at: at,
            overlay: None,
        };
        let id = ban.id.to_string();
        self.bans.push(ban);
        Some(id)
    }

    /// Sets fields of a ban and bumps its `updated_at`; a ban resolved
    /// `reinstated` lifts its account's ban. False if there is no such ban.
    pub fn change_ban(&mut self, id: &str, set: &Map<String, Value>, at: i64) -> bool {
        let Some(ban) = self.bans.find_mut(id) else { return false };
        ban.set(set, at);
        let reinstated = ban.status() == Some("resolved") && ban.resolution() == Some("reinstated");
        let account_id = ban.account_id.to_string();
        if reinstated && let Some(account) = self.pool.accounts.find_mut(&account_id) {
            account.reinstate();
        }
        true
    }

    /// Moves a ban one step: `open` to `under_review`, `under_review` to
    /// `resolved` with a resolution drawn at random. False if it is resolved or not found.
    pub fn step_ban(&mut self, id: &str, at: i64) -> bool {
        let next = match self.bans.find(id).and_then(Ban::status) {
            Some("open") => json!({ "status": "under_review" }),
            Some("under_review") => {
                json!({ "status": "resolved", "resolution": *self.rng.pick(&RESOLUTIONS) })
            }
            _ => return false,
        };
        self.change_ban(id, next.as_object().expect("an object literal"), at)
    }

    /// Sets fields of a comment task and bumps its `updated_at`. False if there is no such task.
    pub fn change_comment(&mut self, id: &str, set: &Map<String, Value>, at: i64) -> bool {
        let Some(comment) = self.comments.find_mut(id) else { return false };
        comment.set(set, at);
        true
    }

    /// Moves a comment task one step: `pending` to `in_progress` (or, one
    /// time in ten, `cancelled`), to `posted`, to `verified` (or, one time in
    /// ten, `disputed`). False if it is in a final status or not found.
    pub fn step_comment(&mut self, id: &str, at: i64) -> bool {
        let odd = self.rng.chance(0.1);
        let next = match self.comments.find(id).and_then(Comment::status) {
            Some("pending") if odd => "cancelled",
            Some("pending") => "in_progress",
            Some("in_progress") => "posted",
            Some("posted") if odd => "disputed",
            Some("posted") => "verified",
            _ => return false,
        };
        self.change_comment(id, &Map::from_iter([("status".to_string(), json!(next))]), at)
    }

    /// Adds `count` `pending` comment tasks, each from a live account drawn at
    /// random, created now (the newest); their ids. None without a live account.
    pub fn insert_comments(&mut self, count: usize, at: i64) -> Vec<String> {
        let mut ids = Vec::new();
        for _ in 0..count {
            let Some(account) = self.pick_account() else { break };
            let (account_id, platform) = (account.id, account.platform());
            let mut comment =
                Comment::new(self.rng.uuid(), account_id, platform, self.rng.next_u64(), at.div_euclid(1000));
            comment.updated_at = at;
            ids.push(comment.id.to_string());
            self.comments.push(comment);
        }
        ids
    }

    pub fn delete_comments(&mut self, ids: &[String]) -> Vec<String> {
        ids.iter().filter(|id| self.comments.remove(id)).cloned().collect()
    }

    /// Removes accounts (their bans and comment tasks stay, as history); the ids that existed.
    pub fn delete_accounts(&mut self, ids: &[String]) -> Vec<String> {
        ids.iter().filter(|id| self.pool.accounts.remove(id)).cloned().collect()
    }

    /// Sets fields (not `id`) of an account's item. False if there is no such account.
    pub fn change_account(&mut self, id: &str, set: &Map<String, Value>) -> bool {
        let Some(account) = self.pool.accounts.find_mut(id) else { return false };
        account.set(set);
        true
    }

    /// Draws from one table until `keep` takes one (at most 16 draws: deleted
    /// slots and rows `keep` refuses are drawn past).
    fn pick<T>(rng: &mut Rng, table: &Table<T>, keep: impl Fn(&T) -> Option<String>) -> Option<String>
    where
        T: super::table::Record,
    {
        (0..16).find_map(|_| table.at_random(rng.next_u64()).and_then(&keep))
    }

    fn pick_account(&mut self) -> Option<&SavedAccount> {
        let id = Self::pick(&mut self.rng, &self.pool.accounts, |a| Some(a.id.to_string()))?;
        self.pool.accounts.find(&id)
    }

    /// A live account's id drawn at random, not banned.
    pub fn pick_unbanned(&mut self) -> Option<String> {
        Self::pick(&mut self.rng, &self.pool.accounts, |a| (!a.is_banned()).then(|| a.id.to_string()))
    }

    /// A ban drawn at random among those not resolved.
    pub fn pick_open_ban(&mut self) -> Option<String> {
        Self::pick(&mut self.rng, &self.bans, |b| (b.status() != Some("resolved")).then(|| b.id.to_string()))
    }

    /// A comment task drawn at random among those not in a final status.
    pub fn pick_moving_comment(&mut self) -> Option<String> {
        let moving = |c: &Comment| matches!(c.status(), Some("pending" | "in_progress" | "posted"));
        Self::pick(&mut self.rng, &self.comments, |c| moving(c).then(|| c.id.to_string()))
    }
}
