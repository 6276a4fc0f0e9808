//! The pool of delivered accounts `GET /accounts` serves. Each is a few typed
//! fields (about 80 bytes, some 0.35 KB with its index entry, bans and comment
//! tasks); its item is built when served, so a pool of 400,000 (a
//! 2,000,000-bundle simulator's default) costs some 140 MB, a tenth of its bundles. A seeded bundle's `saved_account_id`
//! names a pool account of its platform and country (see [`Pool::for_bundle`]).

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::clock::{secs, timestamp_secs};
use super::table::{self, Overlay, Record, Table};
use crate::sim::vocab::{COUNTRIES, PLATFORMS};

/// The documented account statuses, and one undocumented the seeded pool also holds.
pub const ACCOUNT_STATUSES: [&str; 4] = ["active", "warming", "banned", "suspended"];
pub const UNKNOWN_ACCOUNT_STATUS: &str = "pending_review";

const DISPLAY_NAMES: [&str; 5] = ["Zoë ✓", "Café Crème", "日本のアカウント", "O'Brien \"OB\"", "plain"];

/// The platform-and-country pairs, in the pool's rotation: account `i` has pair `i % PAIRS`.
const PAIRS: usize = PLATFORMS.len() * COUNTRIES.len();

/// An account's username, from its id alone, so a bundle's `/account` (which
/// knows only the id) names the same one as `GET /accounts/{id}`.
pub fn username_of(id: &Uuid) -> String {
    format!("user_{}", &id.simple().to_string()[..8])
}

#[derive(Debug, Clone)]
pub struct SavedAccount {
    pub id: Uuid,
    /// Rank in the seeded pool: platform, country and display name follow from it.
    index: u32,
    pub status: &'static str,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; `Some` while banned.
    pub banned_at: Option<i64>,
    pub overlay: Overlay,
}

impl Record for SavedAccount {
    fn id(&self) -> Uuid {
        self.id
    }
}

impl SavedAccount {
    pub fn platform(&self) -> &'static str {
        PLATFORMS[self.index as usize % PLATFORMS.len()]
    }

    pub fn country(&self) -> &'static str {
        COUNTRIES[(self.index as usize / PLATFORMS.len()) % COUNTRIES.len()]
    }

    /// What `GET /accounts` and `GET /accounts/{id}` serve.
    pub fn item(&self) -> Value {
        let mut item = Map::new();
        item.insert("id".into(), json!(self.id.to_string()));
        item.insert("platform".into(), json!(self.platform()));
        item.insert("country".into(), json!(self.country()));
        item.insert("username".into(), json!(username_of(&self.id)));
        item.insert("display_name".into(), json!(DISPLAY_NAMES[self.index as usize % DISPLAY_NAMES.len()]));
        item.insert("status".into(), json!(self.status));
        item.insert("banned".into(), json!(self.banned_at.is_some()));
        item.insert("banned_at".into(), json!(self.banned_at.map(timestamp_secs)));
        item.insert("created_at".into(), json!(timestamp_secs(self.created_at)));
        table::apply(item, &self.overlay)
    }

    /// Sets fields (not `id`) over the item.
    pub fn set(&mut self, set: &Map<String, Value>) {
        table::set_over(&mut self.overlay, set, &["id"]);
    }

    /// Banned at `at` (unix seconds): `status` banned, `banned` true.
    pub fn ban(&mut self, at: i64) {
        self.status = "banned";
        self.banned_at = Some(at);
        table::unset(&mut self.overlay, &["status", "banned", "banned_at"]);
    }

    /// Reinstated: `status` active, `banned` false.
    pub fn reinstate(&mut self) {
        self.status = "active";
        self.banned_at = None;
        table::unset(&mut self.overlay, &["status", "banned", "banned_at"]);
    }

    pub fn is_banned(&self) -> bool {
        match self.overlay.as_ref().and_then(|o| o.get("banned")) {
            Some(banned) => banned.as_bool() == Some(true),
            None => self.banned_at.is_some(),
        }
    }
}

/// Exact-match filters of `GET /accounts`; an unknown value matches nothing.
#[derive(Debug, Default, Clone)]
pub struct AccountFilter {
    pub platform: Option<String>,
    pub country: Option<String>,
    /// `true` or `false`; anything else matches nothing.
    pub banned: Option<String>,
}

impl AccountFilter {
    pub fn matches(&self, account: &SavedAccount) -> bool {
        let o = &account.overlay;
        self.platform.as_deref().is_none_or(|p| table::is(o, "platform", Some(account.platform()), p))
            && self.country.as_deref().is_none_or(|c| table::is(o, "country", Some(account.country()), c))
            && self.banned.as_deref().is_none_or(|b| match b {
                "true" => account.is_banned(),
                "false" => !account.is_banned(),
                _ => false,
            })
    }
}

#[derive(Debug, Clone, Default)]
pub struct Pool {
    pub accounts: Table<SavedAccount>,
    /// How many were seeded: what a bundle's draw is mapped onto.
    seeded: usize,
}

impl Pool {
    /// The pool at start: `accounts` oldest first.
    pub fn new(accounts: Vec<SavedAccount>) -> Self {
        let seeded = accounts.len();
        Pool { accounts: Table::from_oldest_first(accounts), seeded }
    }

    /// A seeded account: the `index`th of the pool.
    pub fn account(index: usize, id: Uuid, status: &'static str, created_at: i64) -> SavedAccount {
        let index = u32::try_from(index).expect("fewer than 2^32 accounts");
        SavedAccount { id, index, status, created_at, banned_at: None, overlay: None }
    }

    /// The pool account a seeded bundle of `platform` and `country` is
    /// delivered on, from the bundle's own draw: one of the same platform and
    /// country when the pool holds one (`None` only for an empty pool). The
    /// seeded ids are a function of the seed, so this needs no lookup table.
    pub fn for_bundle(ids: &[Uuid], platform: &str, country: &str, draw: Uuid) -> Option<Uuid> {
        let n = ids.len();
        if n == 0 {
            return None;
        }
        let h = draw.as_u64_pair().1 as usize;
        let p = PLATFORMS.iter().position(|x| *x == platform);
        let c = COUNTRIES.iter().position(|x| *x == country);
        let index = match (p, c) {
            (Some(p), Some(c)) if p + PLATFORMS.len() * c < n => {
                let pair = p + PLATFORMS.len() * c;
                let count = (n - pair).div_ceil(PAIRS);
                pair + PAIRS * (h % count)
            }
            _ => h % n,
        };
        Some(ids[index])
    }

    pub fn seeded(&self) -> usize {
        self.seeded
    }
}

/// When seeded accounts were created: spread over the 120 days before 2026-01-01.
pub fn seeded_created_at(index: usize, count: usize) -> i64 {
    let start = secs(2025, 9, 3);
    let span = 120 * 86_400i64;
    start + span * index as i64 / count.max(1) as i64
}
