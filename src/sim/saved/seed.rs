//! The seeded pool: `count` accounts, created over the 120 days before
//! 2026-01-01, each in a status (the first few cover every one, the
//! undocumented one included), about one in ten with a ban (eight in ten of
//! those still banned), and 0 to 3 comment tasks each.

use uuid::Uuid;

use super::Saved;
use super::bans::{Ban, REASONS};
use super::comments::{COMMENT_STATUSES, Comment};
use super::pool::{self, Pool, UNKNOWN_ACCOUNT_STATUS};
use super::table::Table;
use crate::sim::rng::Rng;

const DAY: i64 = 86_400;

type Kind = (&'static str, Option<(&'static str, Option<&'static str>)>);

/// The first accounts: every status, and every kind of ban.
const FIRST: [Kind; 7] = [
    ("banned", Some(("open", None))),
    ("active", Some(("resolved", Some("reinstated")))),
    ("warming", None),
    ("suspended", None),
    (UNKNOWN_ACCOUNT_STATUS, None),
    ("banned", Some(("under_review", None))),
    ("banned", Some(("resolved", Some("replaced")))),
];

/// What an account is seeded as: its status and, if it was banned, its ban's status and resolution.
fn kind(index: usize, rng: &mut Rng) -> Kind {
    if let Some(kind) = FIRST.get(index) {
        return *kind;
    }
    match rng.below(100) {
        0..=5 => ("banned", Some((*rng.pick(&["open", "under_review"]), None))),
        6..=7 => ("banned", Some(("resolved", Some(*rng.pick(&["replaced", "refunded"]))))),
        8..=9 => ("active", Some(("resolved", Some("reinstated")))),
        10..=24 => ("warming", None),
        25..=27 => ("suspended", None),
        99 => (UNKNOWN_ACCOUNT_STATUS, None),
        _ => ("active", None),
    }
}

pub fn seeded(seed: u64, count: usize) -> Saved {
    let mut rng = Rng::new(seed ^ 0x5A7E_DAC0_0000);
    let mut accounts = Vec::with_capacity(count);
    let (mut bans, mut comments) = (Vec::new(), Vec::new());
    for index in 0..count {
        let id = rng.uuid();
        let created = pool::seeded_created_at(index, count);
        let (status, ban) = kind(index, &mut rng);
        let mut account = Pool::account(index, id, status, created);
        if let Some((ban_status, resolution)) = ban {
            let banned_at = created + rng.between(1, 60) as i64 * DAY;
            if status == "banned" {
                account.banned_at = Some(banned_at);
            }
            let updated_ms = (banned_at + rng.below(10 * DAY as u64) as i64) * 1000 + rng.below(1000) as i64;
            bans.push(Ban {
                id: rng.uuid(),
                account_id: id,
                status: ban_status,
                resolution,
                reason: REASONS[rng.below(REASONS.len() as u64) as usize],
                banned_at,
                created_at: banned_at,
                updated_at: updated_ms,
                overlay: None,
            });
        }
        let tasks = if index < COMMENT_STATUSES.len() { 1 } else { rng.below(4) };
        for _ in 0..tasks {
            let at = created + rng.between(3600, 90 * DAY as u64) as i64;
            let mut comment = Comment::new(rng.uuid(), id, account.platform(), rng.next_u64(), at);
            comment.status = match comments.len() {
                n if n < COMMENT_STATUSES.len() => COMMENT_STATUSES[n],
                _ => *rng.pick(&COMMENT_STATUSES),
            };
            comment.updated_at = at * 1000 + rng.below(2 * DAY as u64 * 1000) as i64;
            comments.push(comment);
        }
        accounts.push(account);
    }
    bans.sort_by_key(|b| b.created_at);
    comments.sort_by_key(|c| c.created_at);
    Saved {
        pool: Pool::new(accounts),
        bans: Table::from_oldest_first(bans),
        comments: Table::from_oldest_first(comments),
        day_offset: 0,
        rng: Rng::new(seed ^ 0x5A7E_DC4A_4E6E),
    }
}

/// The seeded accounts' ids, in pool order (what bundles are mapped onto).
pub fn ids(saved: &Saved) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = saved.pool.accounts.newest_first().map(|a| a.id).collect();
    ids.reverse();
    ids
}
