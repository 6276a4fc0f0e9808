//! The token-bucket arithmetic, kept as a GCRA ("generic cell rate algorithm"):
//! the whole bucket is one number, the theoretical arrival time (`tat`), the
//! moment the bucket would be full again. A request may be sent at
//! `tat - tolerance`; sending it moves `tat` forward by one `interval`.
//! One number per key is what lets every process share a bucket through a
//! single row updated by a single statement (see the Postgres store).
//!
//! Times are seconds on the store's own clock, so processes never compare
//! their clocks with each other.
//!
//! A long 429 block is probed rather than trusted to its end: while more than
//! `probe_every` seconds of it are left, one reservation per `probe_every`
//! (across every process sharing the row) is granted at once as a probe, and
//! the others are told when to ask again instead of being booked at the
//! block's end. A probe answered by anything but a 429 lifts the block
//! ([`lift`]); a 429 renews it ([`correct`]).

/// Seconds after a probe was sent when the others ask again, to find the
/// block lifted by its answer (a probe answered slower is seen at the next
/// probe time).
pub const PROBE_ANSWER: f64 = 1.0;

/// The pace of one bucket: `interval` seconds per request, `tolerance` the
/// seconds of credit a full bucket holds beyond the next request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    pub interval: f64,
    pub tolerance: f64,
}

impl Rule {
    /// A bucket of `capacity` requests refilling at `rate` requests per second.
    pub fn new(rate: f64, capacity: u32) -> Rule {
        let interval = 1.0 / rate;
        Rule { interval, tolerance: f64::from(capacity.max(1) - 1) * interval }
    }

    /// The same pace for a request that leaves `share` (0 to 1) of the bucket,
    /// full, to others: it may go only while the bucket holds more than that
    /// (fractions of a token too, so requests leaving a share that shrinks
    /// little by little go evenly spaced).
    pub fn leaving(self, share: f64) -> Rule {
        let full = self.tolerance + self.interval;
        Rule { tolerance: (self.tolerance - share.clamp(0.0, 1.0) * full).max(0.0), ..self }
    }

    /// The same pace for a request that leaves `tokens` of the bucket to
    /// others: it may go only while the bucket holds more than that.
    pub fn keeping(self, tokens: u32) -> Rule {
        Rule { tolerance: (self.tolerance - f64::from(tokens) * self.interval).max(0.0), ..self }
    }
}

/// What a store keeps per key. `None` is a key never used: a full bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Slot {
    pub tat: Option<f64>,
    pub blocked_until: Option<f64>,
    /// When the next probe of a long block may go (`None`: at once).
    pub probe_at: Option<f64>,
}

/// The answer to "may I send a request?" (and, when the bucket has plenty,
/// "may I send a few more right away?").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reservation {
    /// Seconds until the reserved send time (0 when it may go now).
    pub wait: f64,
    /// False when `wait` exceeded the caller's limit; nothing was reserved then.
    pub granted: bool,
    /// `tat - now` after the reservation: how far ahead the bucket is booked.
    pub booked_ahead: f64,
    /// Sends booked: 0 when refused or asked to come back, 1, or the whole
    /// batch asked for.
    pub slots: u32,
    /// The send booked is the probe of a long block: it may go now, and its
    /// answer must be reported (lift on anything but a 429, block on a 429).
    pub probe: bool,
    /// Nothing was booked: a long block is being probed; ask again in `wait`.
    pub recheck: bool,
}

/// Reserves the earliest send time for one request, unless it lies more than
/// `limit` seconds away. A 429 block (`blocked_until`) delays it as well; a
/// block with more than `probe_every` seconds left is probed instead (see the
/// module's documentation).
///
/// With `count > 1`, books `count` sends at once, all at `now`, when every one
/// of them may go now; otherwise one, exactly as with `count = 1`. So a batch
/// only ever comes out of tokens the bucket holds now, and a bucket that is
/// short (pacing, or blocked) books one request at a time.
pub fn reserve(
    slot: &mut Slot,
    now: f64,
    rule: Rule,
    limit: f64,
    count: u32,
    probe_every: f64,
) -> Reservation {
    let tat = slot.tat.unwrap_or(now);
    if let Some(blocked_until) = slot.blocked_until.filter(|b| b - now > probe_every) {
        let probe_at = slot.probe_at.unwrap_or(now);
        if probe_at <= now {
            slot.probe_at = Some(now + probe_every);
            slot.tat = Some(tat.max(now) + rule.interval);
            let booked_ahead = slot.tat.unwrap_or(now) - now;
            return Reservation {
                wait: 0.0,
                granted: true,
                booked_ahead,
                slots: 1,
                probe: true,
                recheck: false,
            };
        }
        let answered = probe_at - probe_every + PROBE_ANSWER;
        let ask_at = if now < answered { answered.min(probe_at) } else { probe_at }.min(blocked_until);
        let wait = ask_at - now;
        return Reservation {
            wait,
            granted: wait <= limit,
            booked_ahead: tat - now,
            slots: 0,
            probe: false,
            recheck: true,
        };
    }
    let send_at = now.max(tat - rule.tolerance).max(slot.blocked_until.unwrap_or(now));
    let wait = send_at - now;
    let granted = wait <= limit;
    let whole_batch_now = wait <= 0.0
        && tat.max(now) + f64::from(count.saturating_sub(1)) * rule.interval - rule.tolerance <= now;
    let slots = if whole_batch_now { count.max(1) } else { 1 };
    if granted {
        // The request counts as sent at `send_at`: a bucket that was full
        // (tat in the past) starts again from `now`, never from the past.
        slot.tat = Some(tat.max(now).max(send_at - rule.tolerance) + f64::from(slots) * rule.interval);
    }
    Reservation {
        wait,
        granted,
        booked_ahead: slot.tat.unwrap_or(now) - now,
        slots: if granted { slots } else { 0 },
        probe: false,
        recheck: false,
    }
}

/// News from the server, in seconds from `now` (negative for the past).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Correction {
    /// The bucket is booked at least this far: someone else spent the key.
    pub tat_at_least: Option<f64>,
    /// Nothing may be sent for this long (a 429 was seen).
    pub block_for: Option<f64>,
    /// With `block_for`: the first probe of the block goes no sooner than
    /// this (a renewed block waits a whole probe interval again).
    pub probe_in: Option<f64>,
}

/// Applies a correction. Both fields only ever move forward, so corrections
/// from several processes can arrive in any order.
pub fn correct(slot: &mut Slot, now: f64, correction: Correction) {
    if let Some(ahead) = correction.tat_at_least {
        slot.tat = Some(slot.tat.unwrap_or(now).max(now + ahead));
    }
    if let Some(block) = correction.block_for {
        slot.blocked_until = Some(slot.blocked_until.unwrap_or(now).max(now + block));
        if let Some(probe) = correction.probe_in {
            slot.probe_at = Some(slot.probe_at.unwrap_or(now).max(now + probe));
        }
    }
}

/// A probe got an answer other than 429: the server serves the key again, so
/// the block (and its probing) ends for every process. Nothing is known of
/// the server's bucket but that it let one request through, so it is taken
/// as empty: `tat` moves to at least `now + tat_at_least`, never back.
pub fn lift(slot: &mut Slot, now: f64, tat_at_least: f64) {
    slot.blocked_until = None;
    slot.probe_at = None;
    slot.tat = Some(slot.tat.unwrap_or(now).max(now + tat_at_least));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No block is ever long enough to be probed.
    const NEVER: f64 = f64::INFINITY;

    /// A slot blocked at 0 for `secs` by a 429, probed every 30 s.
    fn blocked(secs: f64) -> Slot {
        let mut slot = Slot::default();
        correct(
            &mut slot,
            0.0,
            Correction { tat_at_least: None, block_for: Some(secs), probe_in: Some(30.0) },
        );
        slot
    }

    fn approx(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn a_fresh_bucket_lets_its_capacity_through_at_once_then_one_per_interval() {
        let rule = Rule::new(20.0, 120);
        let mut slot = Slot::default();
        for _ in 0..120 {
            assert_eq!(reserve(&mut slot, 0.0, rule, 0.0, 1, NEVER).wait, 0.0);
        }
        let r = reserve(&mut slot, 0.0, rule, 10.0, 1, NEVER);
        assert!(r.granted && approx(r.wait, 0.05), "{r:?}");
        let r = reserve(&mut slot, 0.0, rule, 10.0, 1, NEVER);
        assert!(approx(r.wait, 0.10), "{r:?}");
    }

    #[test]
    fn the_bucket_refills_at_the_rate_while_idle() {
        let rule = Rule::new(2.0, 4);
        let mut slot = Slot::default();
        for _ in 0..4 {
            reserve(&mut slot, 0.0, rule, 0.0, 1, NEVER);
        }
        // One second later two tokens are back, the third has to wait.
        assert_eq!(reserve(&mut slot, 1.0, rule, 0.0, 1, NEVER).wait, 0.0);
        assert_eq!(reserve(&mut slot, 1.0, rule, 0.0, 1, NEVER).wait, 0.0);
        assert!(approx(reserve(&mut slot, 1.0, rule, 1.0, 1, NEVER).wait, 0.5));
    }

    #[test]
    fn an_idle_bucket_never_holds_more_than_its_capacity() {
        let rule = Rule::new(1.0, 2);
        let mut slot = Slot::default();
        reserve(&mut slot, 0.0, rule, 0.0, 1, NEVER);
        for _ in 0..2 {
            assert_eq!(reserve(&mut slot, 100.0, rule, 0.0, 1, NEVER).wait, 0.0);
        }
        assert!(approx(reserve(&mut slot, 100.0, rule, 5.0, 1, NEVER).wait, 1.0));
    }

    #[test]
    fn a_reservation_beyond_the_limit_books_nothing() {
        let rule = Rule::new(1.0, 1);
        let mut slot = Slot::default();
        reserve(&mut slot, 0.0, rule, 0.0, 1, NEVER);
        let before = slot;
        let r = reserve(&mut slot, 0.0, rule, 0.5, 1, NEVER);
        assert!(!r.granted && approx(r.wait, 1.0));
        assert_eq!(slot, before);
    }

    #[test]
    fn a_block_delays_the_next_send_even_with_tokens_left() {
        let rule = Rule::new(10.0, 10);
        let mut slot = Slot::default();
        correct(&mut slot, 0.0, Correction { tat_at_least: None, block_for: Some(3.0), probe_in: None });
        let r = reserve(&mut slot, 1.0, rule, 10.0, 1, NEVER);
        assert!(approx(r.wait, 2.0), "{r:?}");
    }

    #[test]
    fn corrections_only_ever_move_forward() {
        let mut slot = Slot::default();
        correct(&mut slot, 0.0, Correction { tat_at_least: Some(5.0), block_for: Some(2.0), probe_in: None });
        correct(&mut slot, 0.0, Correction { tat_at_least: Some(1.0), block_for: Some(1.0), probe_in: None });
        assert_eq!(slot, Slot { tat: Some(5.0), blocked_until: Some(2.0), probe_at: None });
    }

    #[test]
    fn a_batch_is_booked_at_once_only_when_all_of_it_may_go_now() {
        let rule = Rule::new(10.0, 10);
        let mut slot = Slot::default();
        let r = reserve(&mut slot, 0.0, rule, 0.0, 8, NEVER);
        assert_eq!((r.wait, r.slots), (0.0, 8));
        assert!(approx(r.booked_ahead, 0.8), "{r:?}");
        // Two tokens left: a batch of 8 does not fit, so one request is booked, as alone.
        let r = reserve(&mut slot, 0.0, rule, 0.0, 8, NEVER);
        assert_eq!(r.slots, 1);
        assert!(approx(r.booked_ahead, 0.9), "{r:?}");
    }

    #[test]
    fn a_short_or_blocked_bucket_books_one_request_at_a_time() {
        let rule = Rule::new(10.0, 2);
        let mut slot = Slot::default();
        reserve(&mut slot, 0.0, rule, 0.0, 1, NEVER);
        reserve(&mut slot, 0.0, rule, 0.0, 1, NEVER);
        let r = reserve(&mut slot, 0.0, rule, 1.0, 4, NEVER);
        assert!(approx(r.wait, 0.1) && r.slots == 1, "{r:?}");
        let mut slot = Slot::default();
        correct(&mut slot, 0.0, Correction { tat_at_least: None, block_for: Some(1.0), probe_in: None });
        let r = reserve(&mut slot, 0.0, rule, 2.0, 4, NEVER);
        assert!(approx(r.wait, 1.0) && r.slots == 1, "{r:?}");
        let refused = reserve(&mut slot, 0.0, rule, 0.5, 4, NEVER);
        assert_eq!((refused.granted, refused.slots), (false, 0));
    }

    #[test]
    fn a_long_block_grants_one_probe_per_interval_and_asks_the_others_to_come_back() {
        let rule = Rule::new(2.0, 10);
        let mut slot = Slot::default();
        let block = Correction { tat_at_least: None, block_for: Some(600.0), probe_in: Some(30.0) };
        correct(&mut slot, 0.0, block);
        // Before the first probe time: nothing booked, come back at it.
        let r = reserve(&mut slot, 10.0, rule, 600.0, 1, 30.0);
        assert!(r.recheck && r.granted && !r.probe && r.slots == 0 && approx(r.wait, 20.0), "{r:?}");
        let before = slot;
        assert_eq!(reserve(&mut slot, 10.0, rule, 600.0, 1, 30.0).slots, 0);
        assert_eq!(slot, before, "asking again books nothing");
        // At it: one probe, sent now; the next one 30 s later.
        let probe = reserve(&mut slot, 30.0, rule, 600.0, 8, 30.0);
        assert!(probe.probe && probe.granted && probe.wait == 0.0 && probe.slots == 1, "{probe:?}");
        // Another request then waits for the probe's answer, then for the next probe.
        let r = reserve(&mut slot, 30.2, rule, 600.0, 1, 30.0);
        assert!(r.recheck && approx(r.wait, 0.8), "{r:?}");
        let r = reserve(&mut slot, 31.5, rule, 600.0, 1, 30.0);
        assert!(r.recheck && approx(r.wait, 28.5), "{r:?}");
        assert!(reserve(&mut slot, 60.0, rule, 600.0, 1, 30.0).probe);
    }

    #[test]
    fn a_request_that_cannot_wait_for_the_next_probe_is_refused() {
        let rule = Rule::new(2.0, 10);
        let mut slot = blocked(600.0);
        let r = reserve(&mut slot, 2.0, rule, 5.0, 1, 30.0);
        assert!(!r.granted && r.recheck && approx(r.wait, 28.0), "{r:?}");
        let before = slot;
        assert_eq!(reserve(&mut slot, 2.0, rule, 5.0, 1, 30.0).slots, 0);
        assert_eq!(slot, before, "a refusal books nothing");
    }

    #[test]
    fn a_block_shorter_than_the_probe_interval_is_waited_out_as_before() {
        let rule = Rule::new(2.0, 10);
        let mut slot = blocked(20.0);
        let r = reserve(&mut slot, 0.0, rule, 60.0, 1, 30.0);
        assert!(!r.probe && !r.recheck && r.slots == 1 && approx(r.wait, 20.0), "{r:?}");
        // A long block whose end comes before its next probe: booked at the end.
        let mut slot = blocked(100.0);
        let r = reserve(&mut slot, 75.0, rule, 60.0, 1, 30.0);
        assert!(!r.recheck && approx(r.wait, 25.0), "{r:?}");
    }

    #[test]
    fn a_429_to_the_probe_renews_the_block_and_the_next_probe_waits_a_whole_interval() {
        let rule = Rule::new(2.0, 10);
        let mut slot = blocked(600.0);
        assert!(reserve(&mut slot, 30.0, rule, 600.0, 1, 30.0).probe);
        correct(
            &mut slot,
            30.5,
            Correction { tat_at_least: None, block_for: Some(600.0), probe_in: Some(30.0) },
        );
        assert_eq!(slot.blocked_until, Some(630.5));
        assert!(!reserve(&mut slot, 60.0, rule, 600.0, 1, 30.0).probe);
        assert!(reserve(&mut slot, 60.5, rule, 600.0, 1, 30.0).probe);
    }

    #[test]
    fn a_lifted_block_paces_from_an_empty_bucket_and_never_moves_tat_back() {
        let rule = Rule::new(2.0, 10);
        let mut slot = blocked(600.0);
        assert!(reserve(&mut slot, 30.0, rule, 600.0, 1, 30.0).probe);
        lift(&mut slot, 30.2, rule.tolerance + rule.interval);
        assert_eq!((slot.blocked_until, slot.probe_at), (None, None));
        let r = reserve(&mut slot, 30.2, rule, 600.0, 1, 30.0);
        assert!(!r.recheck && approx(r.wait, 0.5), "one interval, as from an empty bucket: {r:?}");
        let mut far = Slot { tat: Some(100.0), ..Slot::default() };
        lift(&mut far, 0.0, 5.0);
        assert_eq!(far.tat, Some(100.0));
    }
}
