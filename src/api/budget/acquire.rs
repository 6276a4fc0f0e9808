//! Acquiring a send: the plan (a held send, a dropped request's send, or a
//! booking), batch booking in the store, and the wait for this request's turn.

use std::time::Duration;

use tokio::time::Instant;

use super::{Budget, FAR, MAX_BATCH};
use crate::api::error::ApiError;
use crate::api::gcra::Rule;
use crate::api::headers::seconds;
use crate::api::turns::Priority;

/// Leave to one send at the booked time.
#[derive(Debug, Clone, Copy)]
pub struct Permit {
    pub sent_at: Instant,
    pub waited: Duration,
    /// This send probes a long 429 block: report its answer with
    /// [`Budget::lift`] (anything but a 429) or [`Budget::block`] (a 429).
    pub probe: bool,
}

/// Marks a batch as being booked while it lives: dropped when the booking
/// ends, or when the `acquire` waiting for it is itself dropped.
struct BatchInFlight<'a>(&'a Budget);

impl Drop for BatchInFlight<'_> {
    fn drop(&mut self) {
        self.0.state().batch_in_flight = false;
    }
}

/// A request waiting for its turn; leaving the queue if dropped.
struct Seat<'a> {
    budget: &'a Budget,
    id: u64,
    served: bool,
}

impl Drop for Seat<'_> {
    fn drop(&mut self) {
        if self.served {
            return;
        }
        let handed = {
            let mut state = self.budget.state();
            state.turns.leave(self.id);
            state.hand_out(Instant::now())
        };
        if handed {
            self.budget.handed_out.send_modify(|n| *n += 1);
        }
    }
}

/// What `acquire` does next.
enum Plan {
    /// A send held from a batch was handed out.
    Held,
    /// Waits for a send booked by a request that was dropped (ticket).
    Joined(u64),
    Book {
        rule: Rule,
        count: u32,
    },
}

impl Budget {
    /// Waits for this process's turn to send one request. Fails, without
    /// booking anything, when the turn is more than `limit` away.
    pub async fn acquire(&self, request: &str, limit: Duration) -> Result<Permit, ApiError> {
        self.acquire_as(Priority::Normal, request, limit).await
    }

    /// [`Budget::acquire`] for a request of the given priority.
    pub async fn acquire_as(
        &self,
        priority: Priority,
        request: &str,
        limit: Duration,
    ) -> Result<Permit, ApiError> {
        let asked = Instant::now();
        loop {
            // Subscribed before asking the store, so a lift in between is seen.
            let mut lifted = self.lifted.subscribe();
            let (rule, count) = match self.plan(Instant::now(), priority) {
                Plan::Held => {
                    return Ok(Permit { sent_at: Instant::now(), waited: asked.elapsed(), probe: false });
                }
                Plan::Joined(id) => return Ok(self.turn(id, asked).await),
                Plan::Book { rule, count } => (rule, count),
            };
            let mut left = limit.saturating_sub(asked.elapsed());
            let (rule, background) = match priority {
                Priority::Background { reserve } => {
                    left = seconds(rule.interval);
                    (rule.keeping(reserve), true)
                }
                Priority::ReadAhead { share } => (rule.leaving(share), false),
                _ => (rule, false),
            };
            let at = Instant::now();
            let in_flight = (count > 1).then_some(BatchInFlight(self));
            let reserved = self
                .bounded(self.store.reserve(
                    &self.key,
                    rule,
                    left.as_secs_f64(),
                    count,
                    self.probe_every.as_secs_f64(),
                ))
                .await;
            drop(in_flight);
            let reservation =
                reserved.map_err(|source| ApiError::Budget { request: request.to_string(), source })?;
            let wait = seconds(reservation.wait);
            if !reservation.granted && background {
                // Asks again once its send would be at most one interval away
                // (a millisecond at least: the clock must move between asks).
                let again = wait.saturating_sub(left).max(Duration::from_millis(1));
                tokio::select! {
                    () = tokio::time::sleep(again) => {}
                    _ = lifted.changed() => {}
                }
                continue;
            }
            if !reservation.granted {
                return Err(ApiError::RateLimited {
                    request: request.to_string(),
                    wait: wait.saturating_add(self.options.max_wait.saturating_sub(left)),
                    max_wait: self.options.max_wait,
                });
            }
            if reservation.recheck {
                tracing::trace!(
                    budget.wait_ms = wait.as_millis() as u64,
                    "the key is blocked; waiting for its probe"
                );
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = lifted.changed() => {}
                }
                continue;
            }
            self.booked(at + seconds(reservation.booked_ahead).min(FAR), reservation.slots, count);
            if reservation.probe {
                tracing::info!(request, "the key is blocked by a 429: probing the server with this request");
                return Ok(Permit { sent_at: Instant::now(), waited: asked.elapsed(), probe: true });
            }
            if !wait.is_zero() {
                tracing::trace!(budget.wait_ms = wait.as_millis() as u64, "waiting for the key's budget");
            }
            let id = self.state().turns.join(priority, Some(at + wait.min(FAR)));
            return Ok(self.turn(id, asked).await);
        }
    }

    /// Waits until a send is handed to ticket `id` (see [`crate::api::turns`]).
    /// Every waiter wakes at the earliest send time and hands it out, so no
    /// task of its own is needed; the one given it is woken by `handed_out`.
    async fn turn(&self, id: u64, asked: Instant) -> Permit {
        let mut seat = Seat { budget: self, id, served: false };
        loop {
            let mut handed_out = self.handed_out.subscribe();
            let (served, handed, next) = {
                let mut state = self.state();
                let handed = state.hand_out(Instant::now());
                (state.turns.take(id), handed, state.turns.next_at())
            };
            if handed {
                self.handed_out.send_modify(|n| *n += 1);
            }
            if served {
                seat.served = true;
                return Permit { sent_at: Instant::now(), waited: asked.elapsed(), probe: false };
            }
            // Never empty while this request waits unserved (each waiter
            // brought a send time); one interval is only a safe fallback.
            let next = next.unwrap_or_else(|| Instant::now() + seconds(self.state().shape.rule.interval));
            tokio::select! {
                () = tokio::time::sleep_until(next) => {}
                _ = handed_out.changed() => {}
            }
        }
    }

    /// Hands out a send held from a batch, if one is still safe to make;
    /// else says what to book.
    ///
    /// A held send is one the store counts as made while the server has not
    /// seen it: the server's bucket holds it on top of what the store thinks
    /// is left. That is harmless while the bucket, as booked, stays at least
    /// `held` intervals from full; once it could have refilled to the top, the
    /// server would have dropped the refill our held sends stand on, and
    /// making them on top of everyone else's could overrun the key. So held
    /// sends expire then, unused (the "cap" choice: they are not given back
    /// to the store, which cannot tell them from sends made), and the batch
    /// size starts again from 1.
    ///
    /// A 429 block that another process writes after a batch was booked is
    /// not seen by the sends held from it, as it is not by a booking already
    /// sleeping toward its send time: at most a batch goes out into it.
    fn plan(&self, now: Instant, priority: Priority) -> Plan {
        let mut state = self.state();
        if state.hand_out(now) {
            self.handed_out.send_modify(|n| *n += 1);
        }
        if state.held > 0 {
            let interval = seconds(state.shape.rule.interval);
            let safe = interval
                .checked_mul(state.held)
                .and_then(|ahead| now.checked_add(ahead))
                .zip(state.booked_until)
                .is_some_and(|(needed, booked)| needed <= booked);
            if safe {
                state.held -= 1;
                return Plan::Held;
            }
            tracing::debug!(budget.expired = state.held, "sends booked ahead expired unused");
            state.held = 0;
            state.next_batch = 1;
        }
        if state.turns.has_unclaimed() {
            return Plan::Joined(state.turns.join(priority, None));
        }
        // Background work books one send at a time: a batch would hold sends
        // booked ahead of the requests it must never delay.
        let count = if state.batch_in_flight || priority.is_background() {
            1
        } else {
            state.next_batch.clamp(1, state.shape.max_batch)
        };
        state.batch_in_flight |= count > 1;
        Plan::Book { rule: state.shape.rule, count }
    }

    /// Records a booking of `slots` sends (one of them made now) out of the
    /// `count` asked for.
    fn booked(&self, until: Instant, slots: u32, count: u32) {
        let mut state = self.state();
        state.booked_until = Some(state.booked_until.map_or(until, |b| b.max(until)));
        state.held += slots.saturating_sub(1);
        if slots == count {
            state.next_batch = count.saturating_mul(2).min(MAX_BATCH);
        }
    }

    /// Sends booked ahead by a batch and not made yet.
    pub fn tokens_booked_ahead(&self) -> u32 {
        self.state().held
    }
}
