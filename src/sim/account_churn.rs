//! Steady change of the delivered accounts (`/__sim/account-churn`):
//! `per_second` changes a second, each one of: an account banned (a new ban),
//! a ban moving a step towards its resolution, or a comment task moving a step
//! along its statuses (another kind when none is left to change); and, with
//! `seconds_per_day`, the simulator's day moving one day ahead every that many
//! seconds (analytics move with it). Each change is logged with its time.
//!
//! Like [`super::churn`], changes are applied when a request comes, each at
//! its own scheduled time and stamped with it (`updated_at`), so whoever asks
//! after that time sees it, exactly as if a process had made it then.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::lock::lock;
use super::state::Shared;

/// Most changes applied by one request (a long pause is caught up over several).
const MAX_CATCH_UP: usize = 100_000;

#[derive(Debug, Default)]
pub struct AccountChurn {
    per_second: f64,
    /// Unix seconds of the next change.
    next_at: f64,
    seconds_per_day: f64,
    /// Unix seconds of the next day.
    next_day_at: f64,
    log: Vec<Change>,
}

/// One change made.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// Unix seconds.
    pub at: f64,
    /// `ban` (an account banned), `ban_step`, `comment_step` or `day`.
    pub kind: &'static str,
    /// The ban or the comment task (`day`: none).
    pub id: Option<String>,
    /// The simulator's day after a `day` change (`YYYY-MM-DD`).
    pub date: Option<String>,
}

/// The rates: changes a second, and seconds a simulated day lasts (0: days pass as real ones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rates {
    pub per_second: f64,
    pub seconds_per_day: f64,
}

impl Rates {
    pub fn validate(&self) -> Result<(), String> {
        for (name, value) in [("per_second", self.per_second), ("seconds_per_day", self.seconds_per_day)] {
            if !value.is_finite() || value < 0.0 {
                return Err(format!("{name} must be a number, 0 or more, got {value}"));
            }
        }
        Ok(())
    }
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// Sets the rates (0 stops), from now on.
pub fn set_rates(shared: &Shared, rates: Rates) {
    catch_up(shared);
    let now = unix_now();
    let mut churn = lock(&shared.account_churn);
    churn.per_second = rates.per_second;
    churn.next_at = now + if rates.per_second > 0.0 { 1.0 / rates.per_second } else { 0.0 };
    churn.seconds_per_day = rates.seconds_per_day;
    churn.next_day_at = now + rates.seconds_per_day;
}

/// The changes made so far (the log is kept whole).
pub fn changes(shared: &Shared) -> Vec<Change> {
    catch_up(shared);
    lock(&shared.account_churn).log.clone()
}

/// Makes every change whose time has come, in the order of their times.
pub fn catch_up(shared: &Shared) {
    let mut churn = lock(&shared.account_churn);
    if churn.per_second <= 0.0 && churn.seconds_per_day <= 0.0 {
        return;
    }
    let now = unix_now();
    let mut world = lock(&shared.world);
    let saved = &mut world.saved;
    for _ in 0..MAX_CATCH_UP {
        let change = churn.per_second > 0.0 && churn.next_at <= now;
        let day = churn.seconds_per_day > 0.0 && churn.next_day_at <= now;
        if day && (!change || churn.next_day_at <= churn.next_at) {
            let at = churn.next_day_at;
            churn.next_day_at += churn.seconds_per_day;
            saved.day_offset += 1;
            let date = Some(saved.day().format("%Y-%m-%d").to_string());
            churn.log.push(Change { at, kind: "day", id: None, date });
        } else if change {
            let at = churn.next_at;
            churn.next_at += 1.0 / churn.per_second;
            let ms = (at * 1000.0) as i64;
            let first = saved.rng.below(3);
            let made = (0..3).find_map(|k| match (first + k) % 3 {
                0 => saved.pick_unbanned().and_then(|id| saved.ban(&id, ms)).map(|id| ("ban", id)),
                1 => saved.pick_open_ban().filter(|id| saved.step_ban(id, ms)).map(|id| ("ban_step", id)),
                _ => saved
                    .pick_moving_comment()
                    .filter(|id| saved.step_comment(id, ms))
                    .map(|id| ("comment_step", id)),
            });
            if let Some((kind, id)) = made {
                churn.log.push(Change { at, kind, id: Some(id), date: None });
            }
        } else {
            break;
        }
    }
}
