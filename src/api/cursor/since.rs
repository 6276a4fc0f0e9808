//! When a page may follow another without an anchor: read at the same
//! `total`, with no change certainly served between the two. Pages in flight
//! together are answered in an order nobody knows, so "between" is by the
//! walk's clock ([`Served`]): a page asked for after another page's answer
//! was served after it.

use crate::api::model::Served;

/// A page read at `total`, answered at tick `answered`, and the first
/// answer since, of a page asked for after it, that showed another `total`:
/// a page asked for after that answer was certainly served after a change,
/// and equal totals then prove nothing (the changes may cancel out).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Since {
    pub(super) total: Option<u64>,
    pub(super) answered: u64,
    change: Option<u64>,
}

impl Since {
    pub(super) fn of(total: Option<u64>, served: Served) -> Since {
        Since { total, answered: served.answered, change: None }
    }

    pub(super) fn differs(&self, total: Option<u64>) -> bool {
        matches!((self.total, total), (Some(a), Some(b)) if a != b)
    }

    /// Takes in a page read at `total`.
    pub(super) fn note(&mut self, total: Option<u64>, served: Served) {
        if self.differs(total) && served.asked > self.answered {
            self.change = Some(self.change.map_or(served.answered, |c| c.min(served.answered)));
        }
    }

    /// A page read at `total` lies next to this one: same `total`, and no
    /// change certainly served between the two.
    pub(super) fn matches(&self, total: Option<u64>, served: Served) -> bool {
        !self.differs(total) && self.change.is_none_or(|c| served.asked < c)
    }
}
