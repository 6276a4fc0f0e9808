//! `GET /accounts/{id}/analytics`: an account's audience on the simulator's
//! day, a function of the account and the day alone, so it is the same all
//! day and moves when the day does (the real one, or one a test advances).
//! Every count grows every day (by at least 1).

use chrono::{Days, NaiveDate, NaiveTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::sim::rng::Rng;

/// Counts grow from this day on.
fn origin() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, 1).expect("a valid fixed date")
}

/// The simulator's day: today (UTC) plus the days tests advanced it.
pub fn day(offset: u64) -> NaiveDate {
    let today = Utc::now().date_naive();
    today.checked_add_days(Days::new(offset)).unwrap_or(today)
}

/// A count on day `d` (days since the origin): a base, plus a daily rate
/// times `d`, plus a noise below the rate, so it grows by at least 1 a day.
fn count(seed: u64, salt: u64, base: u64, rate: u64, d: u64) -> u64 {
    let mut rng = Rng::new(seed ^ salt);
    let (base, rate) = (rng.below(base), 1 + rng.below(rate));
    let noise = Rng::new(seed ^ salt ^ d.wrapping_mul(0x9E37_79B9)).below(rate);
    base + rate * d + noise
}

pub fn of(account_id: &Uuid, day: NaiveDate) -> Value {
    let seed = account_id.as_u64_pair().0;
    let d = u64::try_from((day - origin()).num_days()).unwrap_or(0);
    let followers = count(seed, 1, 50_000, 40, d);
    let views = count(seed, 2, 2_000_000, 5_000, d);
    let likes = count(seed, 3, 200_000, 400, d);
    let engagement = (Rng::new(seed ^ d).below(900) + 100) as f64 / 10_000.0;
    json!({
        "account_id": account_id.to_string(),
        "date": day.format("%Y-%m-%d").to_string(),
        "followers": followers,
        "following": count(seed, 4, 500, 2, d),
        "likes": likes,
        "videos": count(seed, 5, 30, 1, d) / 7,
        "views": views,
        "engagement_rate": engagement,
        "updated_at": format!("{}Z", day.and_time(NaiveTime::MIN).format("%Y-%m-%dT%H:%M:%S")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analytics_are_the_same_all_day_and_grow_from_one_day_to_the_next() {
        let id = Uuid::from_u128(42);
        let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let next = day.succ_opt().unwrap();
        assert_eq!(of(&id, day), of(&id, day));
        let (a, b) = (of(&id, day), of(&id, next));
        for name in ["followers", "likes", "views", "following"] {
            assert!(b[name].as_u64() > a[name].as_u64(), "{name}: {a} then {b}");
        }
        assert_eq!(b["date"], "2026-03-02");
        assert_eq!(a["updated_at"], "2026-03-01T00:00:00Z");
    }
}
