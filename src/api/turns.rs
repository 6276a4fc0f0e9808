//! Who in this process gets each send the budget booked. Every request books
//! its own send time in the store (so the key's total rate is the store's,
//! whatever the order here), puts it in this pool and waits; when the
//! earliest send time comes it goes to a waiting refresh (a webhook refresh:
//! someone is waiting for it) while the refreshes' share allows, else to the
//! oldest other request. The request whose time was taken gets the next one.
//!
//! The refreshes' share is a token bucket of their own, counted in sends: each
//! send handed out adds `1 - walk_share` to it, up to [`REFRESH_BURST`]; a
//! refresh taking a send while another request waits spends one. So while
//! both wait, refreshes get at most `1 - walk_share` of the sends (plus the
//! burst); when nothing else waits, they take every send.
//!
//! A request whose send was taken waits for a later one: its wait is bounded
//! when it books (`limit`), and may then grow by the refreshes' share.

use tokio::time::Instant;

/// Sends refreshes may take ahead of waiting requests back to back: one
/// webhook event costs one or two GETs (the bundle, its videos or account).
pub const REFRESH_BURST: f64 = 2.0;

/// `webhooks.walk_share`'s default: half the sends stay the walk's.
pub const DEFAULT_WALK_SHARE: f64 = 0.5;

/// The class of a request, for the order of sends within one process.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Priority {
    /// The walk, and every request that is not a refresh.
    #[default]
    Normal,
    /// A webhook refresh: the next send here, as long as `walk_share` of the
    /// sends stays with the others while they wait (0 < walk_share ≤ 1).
    Refresh { walk_share: f64 },
    /// A GET sent again after a retryable failure (a 503, a timeout): the
    /// next send here, ahead of every other waiting request. Retries are
    /// few, and a page retried late is served after the pages after it,
    /// which the list may have shifted by then (each such page is read
    /// again); a walk's other pages waiting for their turn would otherwise
    /// all go first.
    Retry,
    /// A page a walk reads ahead of the page it waits for: a normal request
    /// that leaves `share` of the bucket unspent (see [`crate::api::ahead`]:
    /// what the bucket held when the walk began, in the share of the walk's
    /// pages still to come), so a walk spends its burst evenly over its pages
    /// instead of at its start. It ends when it would have (the bucket is
    /// never full meanwhile), and a page answered 503 is sent again at once,
    /// out of what the bucket holds.
    ReadAhead { share: f64 },
    /// Work that only spends what others leave (the continuous mirror): it
    /// may send only while the key's bucket holds more than `reserve`
    /// tokens, and never books a send more than one interval ahead, so a
    /// request of any other class booked after it waits at most about one
    /// token's time behind it.
    Background { reserve: u32 },
}

impl Priority {
    pub fn is_background(self) -> bool {
        matches!(self, Priority::Background { .. })
    }
}

#[derive(Debug)]
struct Waiter {
    id: u64,
    refresh: bool,
    /// A retry: served before anyone else.
    first: bool,
    /// The send time handed to it, not collected yet.
    granted: Option<Instant>,
}

#[derive(Debug)]
pub(super) struct Turns {
    /// Send times booked in the store and not handed out, earliest first.
    /// One per waiter, plus those of requests dropped while waiting.
    slots: Vec<Instant>,
    /// In order of arrival.
    waiters: Vec<Waiter>,
    next_id: u64,
    /// The refreshes' own bucket, in sends.
    credit: f64,
    /// The last walk share a refresh asked for.
    walk_share: f64,
}

impl Turns {
    pub fn new() -> Turns {
        Turns {
            slots: Vec::new(),
            waiters: Vec::new(),
            next_id: 0,
            credit: REFRESH_BURST,
            walk_share: DEFAULT_WALK_SHARE,
        }
    }

    /// A send time booked by a request dropped while it waited, that no one
    /// waits for yet: the next request takes it instead of booking one more.
    pub fn has_unclaimed(&self) -> bool {
        self.slots.len() > self.waiters.iter().filter(|w| w.granted.is_none()).count()
    }

    /// A request starts waiting, bringing the send time it booked (none when
    /// it takes an unclaimed one). Returns its ticket.
    pub fn join(&mut self, priority: Priority, booked: Option<Instant>) -> u64 {
        if let Some(at) = booked {
            let i = self.slots.partition_point(|s| *s <= at);
            self.slots.insert(i, at);
        }
        let refresh = if let Priority::Refresh { walk_share } = priority {
            self.walk_share = walk_share.clamp(0.0, 1.0);
            true
        } else {
            false
        };
        let first = priority == Priority::Retry;
        self.next_id += 1;
        self.waiters.push(Waiter { id: self.next_id, refresh, first, granted: None });
        self.next_id
    }

    /// Hands out every send time that has come. Returns whether anyone was
    /// given one, and how many came with nobody waiting (the caller holds
    /// them, so a dropped request's send is not lost).
    pub fn dispatch(&mut self, now: Instant) -> (bool, u32) {
        let (mut granted, mut unclaimed) = (false, 0);
        while self.slots.first().is_some_and(|at| *at <= now) {
            let at = self.slots.remove(0);
            let cap = if self.walk_share < 1.0 { REFRESH_BURST } else { 0.0 };
            self.credit = (self.credit + (1.0 - self.walk_share)).min(cap);
            let waiting =
                |refresh: bool| self.waiters.iter().position(|w| w.granted.is_none() && w.refresh == refresh);
            let retry = self.waiters.iter().position(|w| w.granted.is_none() && w.first);
            // A hair under one: shares such as 0.9 add up to 0.999… in ten sends.
            let pick = match (waiting(true), waiting(false)) {
                _ if retry.is_some() => retry,
                (Some(r), Some(_)) if self.credit >= 1.0 - 1e-9 => {
                    self.credit -= 1.0;
                    Some(r)
                }
                (Some(r), None) => Some(r),
                (_, Some(n)) => Some(n),
                (None, None) => None,
            };
            match pick {
                Some(i) => {
                    self.waiters[i].granted = Some(at);
                    granted = true;
                }
                None => unclaimed += 1,
            }
        }
        (granted, unclaimed)
    }

    /// Collects the send handed to `id`, if any; the request is done then.
    pub fn take(&mut self, id: u64) -> bool {
        let Some(i) = self.waiters.iter().position(|w| w.id == id && w.granted.is_some()) else {
            return false;
        };
        self.waiters.remove(i);
        true
    }

    /// A request dropped while waiting: its send time stays in the pool, for
    /// the others (or the next request) to take.
    pub fn leave(&mut self, id: u64) {
        let Some(i) = self.waiters.iter().position(|w| w.id == id) else { return };
        if let Some(at) = self.waiters.remove(i).granted {
            let i = self.slots.partition_point(|s| *s <= at);
            self.slots.insert(i, at);
        }
    }

    /// The earliest send time not handed out.
    pub fn next_at(&self) -> Option<Instant> {
        self.slots.first().copied()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const REFRESH: Priority = Priority::Refresh { walk_share: 0.5 };

    #[test]
    fn a_refresh_takes_the_next_send_time_and_the_walk_request_the_one_after() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut turns = Turns::new();
        let walk = turns.join(Priority::Normal, Some(at(500)));
        let refresh = turns.join(REFRESH, Some(at(1000)));
        assert_eq!(turns.dispatch(at(500)), (true, 0));
        assert!(turns.take(refresh) && !turns.take(walk));
        assert_eq!(turns.next_at(), Some(at(1000)));
        turns.dispatch(at(1000));
        assert!(turns.take(walk));
    }

    #[test]
    fn with_a_walk_share_of_one_a_refresh_never_goes_ahead_of_a_waiting_walk() {
        let t0 = Instant::now();
        let mut turns = Turns::new();
        let walk = turns.join(Priority::Normal, Some(t0));
        let refresh = turns.join(Priority::Refresh { walk_share: 1.0 }, Some(t0));
        turns.dispatch(t0);
        assert!(turns.take(walk) && turns.take(refresh));
        let refresh = turns.join(Priority::Refresh { walk_share: 1.0 }, Some(t0 + Duration::from_secs(1)));
        let walk = turns.join(Priority::Normal, Some(t0 + Duration::from_secs(2)));
        turns.dispatch(t0 + Duration::from_secs(1));
        assert!(turns.take(walk) && !turns.take(refresh), "the walk's share is all of it");
    }

    #[test]
    fn a_retry_takes_the_next_send_time_ahead_of_the_walks_pages_and_a_refresh_waiting_before_it() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut turns = Turns::new();
        let pages: Vec<u64> = (0..3).map(|i| turns.join(Priority::Normal, Some(at(50 * (i + 1))))).collect();
        let refresh = turns.join(REFRESH, Some(at(200)));
        let retry = turns.join(Priority::Retry, Some(at(250)));
        turns.dispatch(at(50));
        assert!(turns.take(retry), "the retry, last to join, gets the first send");
        assert!(!turns.take(refresh) && pages.iter().all(|p| !turns.take(*p)));
        turns.dispatch(at(100));
        assert!(turns.take(refresh), "then the others as before: the refresh first");
        turns.dispatch(at(250));
        assert!(pages.iter().all(|p| turns.take(*p)), "and the pages in the three times left");
    }

    #[test]
    fn a_dropped_request_leaves_its_send_time_to_the_others_or_the_caller() {
        let t0 = Instant::now();
        let mut turns = Turns::new();
        let first = turns.join(Priority::Normal, Some(t0));
        turns.dispatch(t0);
        turns.leave(first);
        assert!(turns.has_unclaimed());
        let second = turns.join(Priority::Normal, None);
        turns.dispatch(t0);
        assert!(turns.take(second));
        let gone = turns.join(Priority::Normal, Some(t0));
        turns.leave(gone);
        assert_eq!(turns.dispatch(t0), (false, 1), "due with nobody waiting: the caller holds it");
        assert_eq!(turns.next_at(), None);
    }
}
