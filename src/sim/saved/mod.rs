//! The delivered social-media accounts of the simulated customer, called
//! "saved accounts" here because "account" already names the key's own
//! (credits, `/me`): the pool `GET /accounts` serves ([`pool`]), their bans
//! ([`bans`]), their comment tasks ([`comments`]) and their daily analytics
//! ([`analytics`]), seeded from the simulator's seed ([`seed`]), changed by
//! the handle, the admin endpoints and steady churn ([`change`]).
//! Records are a few typed fields each, their items built when served
//! ([`table`]); [`clock`] has their times.

pub mod analytics;
pub mod bans;
pub mod change;
pub mod clock;
pub mod comments;
pub mod pool;
pub mod seed;
pub mod table;

use bans::Ban;
use comments::Comment;
use pool::Pool;
use table::Table;

use super::rng::Rng;

#[derive(Debug, Clone)]
pub struct Saved {
    pub pool: Pool,
    /// Oldest first (by `created_at`).
    pub bans: Table<Ban>,
    /// Oldest first (by `created_at`).
    pub comments: Table<Comment>,
    /// Days tests (or churn) moved the simulator's day past today.
    pub day_offset: u64,
    /// Draws of later changes, apart from the bundles' PRNG so those stay as they were.
    pub rng: Rng,
}

impl Saved {
    /// The simulator's day (what analytics are of).
    pub fn day(&self) -> chrono::NaiveDate {
        analytics::day(self.day_offset)
    }
}
