//! The one place that decides when a request may be sent: a pacer per API key
//! in front of every request the key makes. It spends the bucket's burst, then
//! paces at the refill rate, books every send in a [`BudgetStore`] (shared
//! through Postgres by every process using the key), corrects itself from the
//! server's rate-limit headers, and turns 429s into a block all processes
//! honour, growing with each consecutive 429. The bucket's size is the
//! server's (`X-RateLimit-Limit`) once a response has told it.
//!
//! Booking ahead: while the bucket holds plenty of tokens, one call to the
//! store books a small batch of sends, handed out here without asking the
//! store again (one Postgres round trip per batch instead of per request).
//!
//! Within the process, the sends booked go to waiting requests by priority
//! (see [`super::turns`]): a webhook refresh goes ahead of walk pages, within
//! its share. A long 429 block is probed once per probe interval across every
//! process of the key instead of being waited out (see [`super::gcra`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::sync::watch;
use tokio::time::Instant;

use super::error::ApiError;
use super::gcra::{Correction, Rule};
use super::headers::{RateLimitHeaders, seconds, seconds_until_unix};
use super::store::BudgetStore;
use super::turns::{Priority, Turns};

/// Bookings further ahead than this are clamped, so adding them to an
/// `Instant` cannot overflow (no sane bucket is booked a year ahead).
const FAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// Longest a call to the store may take by default. The Postgres store locks
/// the key's row: a session holding that lock would otherwise stall every
/// request of every process using the key, without a word.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a long 429 block is probed by default (`api.probe_interval_secs`).
pub const PROBE_INTERVAL: Duration = Duration::from_secs(30);

/// Most sends one booking may take at once. Sends booked but never made are
/// lost to every other client of the key until the bucket refills, so the
/// batch is kept small (and see [`BATCH_SHARE`]); eight already takes a
/// Postgres round trip (~2 ms) off seven requests out of eight.
pub const MAX_BATCH: u32 = 8;

/// A batch never holds more than this fraction of the bucket: with the
/// documented bucket (120) at most 7 sends, and a bucket under 32 books one
/// request at a time.
const BATCH_SHARE: u32 = 16;

/// The key's bucket as the server keeps it, and how much of it to use.
#[derive(Debug, Clone, Copy)]
pub struct BudgetOptions {
    pub rate_per_second: f64,
    pub burst: u32,
    /// Share of rate and burst left for other clients of the key (0 ≤ x < 1).
    pub reserved_share: f64,
    /// Longest one request may wait (pacing plus 429 back-off) before it fails.
    pub max_wait: Duration,
}

/// Leave to one send at the booked time.
#[derive(Debug, Clone, Copy)]
pub struct Permit {
    pub sent_at: Instant,
    pub waited: Duration,
    /// This send probes a long 429 block: report its answer with
    /// [`Budget::lift`] (anything but a 429) or [`Budget::block`] (a 429).
    pub probe: bool,
}

/// Consecutive 429s of one request; see [`Budget::streak`].
pub struct Streak {
    extra: backon::ExponentialBackoff,
}

impl Streak {
    /// How long to block the key after one more 429, the server having asked
    /// for `server_wait`.
    pub fn next_wait(&mut self, server_wait: Duration) -> Duration {
        server_wait.saturating_add(self.extra.next().unwrap_or_default())
    }
}

pub struct Budget {
    store: Arc<dyn BudgetStore>,
    key: String,
    options: BudgetOptions,
    state: Mutex<State>,
    /// Whether the server's `X-RateLimit-Limit` has been reported (once).
    told_server_burst: AtomicBool,
    /// Longest one call to the store may take; see [`STORE_TIMEOUT`].
    store_timeout: Duration,
    /// How often a long block is probed; see [`PROBE_INTERVAL`].
    probe_every: Duration,
    /// Bumped when sends are handed out, to wake the requests given one.
    handed_out: watch::Sender<u64>,
    /// Bumped when a probe of this process lifts a block, so the requests
    /// waiting for it here go at once (other processes see it in the store).
    lifted: watch::Sender<u64>,
}

/// The bucket as this process plans for it: sized by `api.burst` until the
/// server says otherwise.
#[derive(Debug, Clone, Copy)]
struct Shape {
    /// The whole bucket, every client's: `api.burst` or `X-RateLimit-Limit`.
    burst: u32,
    rule: Rule,
    /// Tokens of the bucket left to other clients by `reserved_share`.
    reserved_tokens: f64,
    /// Most sends one booking may take; 1 books one request at a time.
    max_batch: u32,
}

impl Shape {
    fn new(options: &BudgetOptions, burst: u32) -> Shape {
        let share = 1.0 - options.reserved_share.clamp(0.0, 0.99);
        let usable = (f64::from(burst) * share).floor() as u32;
        // One token of the bucket is never planned for: requests leave at
        // exact intervals but reach the server with jitter, and a request
        // arriving a millisecond early at an empty bucket is a 429.
        let capacity = usable.saturating_sub(1).max(1);
        Shape {
            burst,
            rule: Rule::new(options.rate_per_second * share, capacity),
            reserved_tokens: f64::from(burst.saturating_sub(usable)),
            max_batch: (capacity / BATCH_SHARE).clamp(1, MAX_BATCH),
        }
    }
}

#[derive(Debug)]
struct State {
    shape: Shape,
    /// Where this process last saw the bucket booked to: never later than the
    /// store's `tat` (which only moves forward). Corrections that do not move
    /// past it are not written (they would change nothing).
    booked_until: Option<Instant>,
    /// Sends booked by a batch and not handed out yet.
    held: u32,
    /// The size of the next batch: doubles each time a batch is granted
    /// whole, back to 1 when sends held expire unused (so a client too slow
    /// to spend its batches books one or two sends at a time and wastes at
    /// most one send per two bookings).
    next_batch: u32,
    /// A batch is being booked: concurrent bookings take one send each, so
    /// no more than one batch is ever held.
    batch_in_flight: bool,
    /// Sends booked and the requests waiting for them, by priority.
    turns: Turns,
}

impl State {
    /// Hands out the sends whose time has come; those nobody waits for (their
    /// request was dropped) are held, so they are not lost. Whether anyone was
    /// given a send.
    fn hand_out(&mut self, now: Instant) -> bool {
        let (handed, unclaimed) = self.turns.dispatch(now);
        self.held += unclaimed;
        handed
    }
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
    /// `key_fingerprint` names the bucket in the store; the key itself never
    /// reaches the budget.
    pub fn new(store: Arc<dyn BudgetStore>, key_fingerprint: String, options: BudgetOptions) -> Budget {
        let state = State {
            shape: Shape::new(&options, options.burst),
            booked_until: None,
            held: 0,
            next_batch: 1,
            batch_in_flight: false,
            turns: Turns::new(),
        };
        Budget {
            store,
            key: key_fingerprint,
            options,
            state: Mutex::new(state),
            told_server_burst: AtomicBool::new(false),
            store_timeout: STORE_TIMEOUT,
            probe_every: PROBE_INTERVAL,
            handed_out: watch::Sender::new(0),
            lifted: watch::Sender::new(0),
        }
    }

    /// Probes a long block every `every` instead of [`PROBE_INTERVAL`].
    pub fn with_probe_interval(mut self, every: Duration) -> Budget {
        self.probe_every = every.max(Duration::from_millis(1));
        self
    }

    /// Bounds every call to the store by `timeout` instead of [`STORE_TIMEOUT`].
    pub fn with_store_timeout(mut self, timeout: Duration) -> Budget {
        self.store_timeout = timeout;
        self
    }

    pub fn max_wait(&self) -> Duration {
        self.options.max_wait
    }

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
            let left = limit.saturating_sub(asked.elapsed());
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

    /// Waits until a send is handed to ticket `id` (see [`super::turns`]).
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
        let count = if state.batch_in_flight { 1 } else { state.next_batch.clamp(1, state.shape.max_batch) };
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

    /// The size of the key's bucket the budget plans with: `api.burst`, or
    /// the server's `X-RateLimit-Limit` once a response carried one.
    pub fn burst(&self) -> u32 {
        self.state().shape.burst
    }

    /// Folds the rate-limit headers of a response into the bucket: the
    /// server's bucket size, and, when the server has fewer tokens than we
    /// booked for, someone else is spending the key and our bucket moves
    /// forward to match.
    pub async fn observe(&self, permit: &Permit, headers: &RateLimitHeaders) {
        if let Some(limit) = headers.limit {
            self.follow_server_burst(limit);
        }
        let Some(ahead) = self.server_booked_ahead(headers) else { return };
        let (known, held_ahead) = {
            let state = self.state();
            // Sends held from a batch are booked, but the server has not seen them.
            (state.booked_until, seconds(state.shape.rule.interval).saturating_mul(state.held))
        };
        let server_booked = permit.sent_at + seconds(ahead).saturating_add(held_ahead).min(FAR);
        // A millisecond of slack: equal estimates need no write.
        if known.is_some_and(|k| server_booked <= k + Duration::from_millis(1)) {
            return;
        }
        let now = Instant::now();
        if server_booked <= now {
            return;
        }
        let correction = Correction {
            tat_at_least: Some((server_booked - now).as_secs_f64()),
            block_for: None,
            probe_in: None,
        };
        tracing::debug!(
            budget.behind_ms = (server_booked - now).as_millis() as u64,
            "another client is spending the key; slowing down"
        );
        self.write(correction).await;
        self.note_booked(server_booked);
    }

    /// From the first response on, the bucket is the size the server says it
    /// is: a key whose limit differs from `api.burst` would otherwise be
    /// overrun (429s) or underused for as long as the process runs.
    fn follow_server_burst(&self, limit: u32) {
        if limit == 0 {
            return;
        }
        let mut state = self.state();
        if state.shape.burst == limit {
            return;
        }
        let before = state.shape.burst;
        state.shape = Shape::new(&self.options, limit);
        // Held sends were planned for the old bucket; let them go.
        state.held = 0;
        state.next_batch = 1;
        drop(state);
        if self.told_server_burst.swap(true, Ordering::Relaxed) {
            tracing::debug!(
                budget.burst = limit,
                budget.burst_before = before,
                "the server's bucket changed size"
            );
        } else {
            tracing::warn!(
                budget.configured_burst = self.options.burst,
                budget.server_burst = limit,
                "the server's bucket holds {limit} requests (X-RateLimit-Limit), not the {} of api.burst; \
                 using the server's figure",
                self.options.burst
            );
        }
    }

    /// After a 429: nobody using the key may send for `wait`, capped at
    /// `max_wait`: the block is shared by every process through the store and
    /// only moves forward, so one absurd server value (a `Retry-After` of
    /// `1e300`) must not stop the key for longer than any request may wait.
    /// A block longer than the probe interval is probed: the first probe
    /// goes one interval from now.
    pub async fn block(&self, wait: Duration) {
        let wait = wait.min(self.options.max_wait).min(FAR);
        {
            // Sends held from a batch would go out through the block.
            let mut state = self.state();
            state.held = 0;
            state.next_batch = 1;
        }
        let probe_in = Some(self.probe_every.as_secs_f64());
        self.write(Correction { tat_at_least: None, block_for: Some(wait.as_secs_f64()), probe_in }).await;
    }

    /// A probe got an answer other than 429: the key's block ends for every
    /// process. The server's bucket is taken as empty (it let one request
    /// through, nothing more is known), so the key is paced from one interval
    /// on, and never booked less far ahead than it was.
    pub async fn lift(&self) {
        let rule = self.state().shape.rule;
        let ahead = rule.tolerance + rule.interval;
        if let Err(e) = self.bounded(self.store.lift(&self.key, ahead)).await {
            tracing::warn!(
                error = format!("{e:#}"),
                "Failed to lift the key's block after a probe got through"
            );
            return;
        }
        tracing::info!("a probe got through: the key's 429 block is lifted for every process");
        self.note_booked(Instant::now() + seconds(ahead).min(FAR));
        self.lifted.send_modify(|n| *n += 1);
    }

    /// The 429s of one request: each wait is the server's, plus an extra
    /// that doubles with every consecutive 429 (from one send interval, with
    /// jitter so processes that were blocked together do not return together).
    pub fn streak(&self) -> Streak {
        let interval = seconds(self.state().shape.rule.interval);
        let extra = ExponentialBuilder::default()
            .with_min_delay(interval)
            .with_factor(2.0)
            .with_max_delay(Duration::from_secs(60).max(interval))
            .with_jitter()
            .without_max_times()
            .build();
        Streak { extra }
    }

    /// How far past the send the server's bucket is booked, as far as its
    /// headers prove: from Remaining, or from Reset when Remaining is
    /// missing. Both headers are rounded (remaining down to a whole
    /// token, reset up to a whole second), so the bound assumes the rounding
    /// went our way: we never slow down more than the server requires. The
    /// shortfall is capped at a full bucket: the server cannot be more than
    /// empty, and a reset in milliseconds or far in the future would
    /// otherwise book the shared bucket (forward only) for a year.
    fn server_booked_ahead(&self, headers: &RateLimitHeaders) -> Option<f64> {
        let shape = self.state().shape;
        let burst = f64::from(shape.burst);
        let from_remaining = headers.remaining.map(|r| burst - (r + 1.0));
        let from_reset = headers
            .reset
            .map(|reset| (seconds_until_unix(reset) - 1.0).max(0.0) * self.options.rate_per_second);
        // Remaining is a count, free of clocks; Reset is compared with our
        // wall clock, so a server clock a minute ahead would make every
        // response look like an empty bucket. Reset only when Remaining is absent.
        let tokens_short = from_remaining.or(from_reset)?.min(burst);
        // The headers count the whole bucket, ours only the usable part: the
        // reserved tokens are others' to spend before we are short of any.
        let ours_short = tokens_short - shape.reserved_tokens;
        (ours_short > 0.0).then_some(ours_short * shape.rule.interval)
    }

    fn note_booked(&self, at: Instant) {
        let mut state = self.state();
        state.booked_until = Some(state.booked_until.map_or(at, |b| b.max(at)));
    }

    /// The state is only ever changed by short, panic-free sections, so a
    /// poisoned lock still holds consistent data.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One call to the store, failing once it has taken `store_timeout`. A
    /// booking abandoned this way may still land later: that only makes the
    /// budget more careful, never less.
    async fn bounded<T>(
        &self,
        call: impl std::future::Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        match tokio::time::timeout(self.store_timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(anyhow::anyhow!(
                "the budget store did not answer within {:.1}s (is a session holding the key's row \
                 in tokportal.api_budgets locked?)",
                self.store_timeout.as_secs_f64()
            )),
        }
    }

    async fn write(&self, correction: Correction) {
        // Best effort: if the store is down the next reservation fails loudly.
        if let Err(e) = self.bounded(self.store.correct(&self.key, correction)).await {
            tracing::warn!(error = format!("{e:#}"), "Failed to record a budget correction");
        }
    }
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "budget_priority_tests.rs"]
mod priority_tests;

#[cfg(test)]
#[path = "budget_probe_tests.rs"]
mod probe_tests;
