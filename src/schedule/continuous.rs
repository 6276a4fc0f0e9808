//! Continuous mode (`sync.schedule = "continuous"`): the daemon refreshes,
//! one [`Scheduler::step_once`] after another, what [`super::pick`] says is
//! most likely stale, each run under its stream's advisory lock as on a
//! schedule. Its client is of the background class
//! ([`Priority::Background`]): it sends only while the key's bucket holds
//! more than the reserve left to jobs and webhook refreshes, and never books
//! ahead of them.

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Scheduler;
use super::pick::{self, Class, Pick};
use crate::api::Priority;
use crate::meter;
use crate::mirror::children::{self, Plan};
use crate::mirror::streams::{self, Stream};
use crate::mirror::{self, Outcome, RunSummary, child_refreshes, lock, staleness};

/// A walk is never repeated sooner than this many requests' time at the
/// key's rate (15 s at 2/s), nor is a step retried sooner after a failure
/// or when there was nothing to do.
const MIN_GAP_REQUESTS: f64 = 30.0;

/// What one step did.
#[derive(Debug)]
pub enum Step {
    /// `cut`: a children run the next walk's turn stopped, so there is more to
    /// do at once even if it sent nothing.
    Ran { run: RunSummary, cut: bool },
    /// Another process holds the stream's lock.
    Skipped(&'static str),
    /// No stream is configured.
    Idle,
}

impl Scheduler {
    /// The same scheduler, its requests in the background class: they leave
    /// `reserve` tokens of the key's bucket to the others.
    pub fn in_background(mut self, reserve: u32) -> Scheduler {
        self.mirror.client = self.mirror.client.with_priority(Priority::Background { reserve });
        self
    }

    /// Seconds of `MIN_GAP_REQUESTS` requests at the key's rate.
    fn min_gap(&self) -> f64 {
        MIN_GAP_REQUESTS / self.mirror.settings.rate_per_second.max(f64::MIN_POSITIVE)
    }

    /// Picks what is most likely stale and refreshes it: a list walk, or one
    /// class of a child stream's bundles until the next walk is due.
    pub async fn step_once(&self, cancel: &CancellationToken) -> anyhow::Result<Step> {
        let (m, gap) = (&self.mirror, self.min_gap());
        let share = self.walk_share;
        mirror::child_refreshes::note_returns(&m.pool).await?;
        let now = staleness::now(&m.pool, &self.streams, m.settings.children_full_refresh).await?;
        let (outcome, cut) = match pick::pick(&now, gap, share) {
            None => return Ok(Step::Idle),
            Some(Pick::Walk(stream)) => (mirror::sync_stream_once(m, stream, cancel).await?, false),
            Some(Pick::Children { stream, class }) => {
                let due =
                    pick::walk_due_in(&now, gap, share).map(|s| Instant::now() + Duration::from_secs_f64(s));
                let outcome = self.children_once(stream, class, due, cancel).await?;
                (outcome, due.is_some_and(|due| Instant::now() >= due))
            }
        };
        Ok(match outcome {
            Outcome::Ran(run) => Step::Ran { run, cut },
            Outcome::Skipped { stream } => Step::Skipped(stream),
        })
    }

    async fn children_once(
        &self,
        name: &'static str,
        class: Class,
        due: Option<Instant>,
        cancel: &CancellationToken,
    ) -> anyhow::Result<Outcome> {
        let m = &self.mirror;
        let Some(Stream::Children(stream)) = streams::find(name) else {
            anyhow::bail!("{name} is not a child stream");
        };
        let Some(held) = lock::try_lock(&m.pool, name).await? else {
            return Ok(Outcome::Skipped { stream: name });
        };
        // Stops launching when the walk falls due, however soon (the walks' share
        // holds), but not before one request's time after planning: a run
        // sending nothing would make the loop pause as if there were nothing to do.
        let one_request = Duration::from_secs_f64(1.0 / m.settings.rate_per_second.max(f64::MIN_POSITIVE));
        let result = match self.plan(name, stream.videos, class).await {
            Ok(plan) => {
                let until = due.map(|due| due.max(Instant::now() + one_request));
                children::run_planned(m, stream, plan, until, cancel).await
            }
            Err(e) => Err(e),
        };
        held.release().await;
        Ok(Outcome::Ran(result?))
    }

    /// The bundles of `class` a children run fetches, oldest first, up to
    /// `sync.max_requests_per_run`.
    async fn plan(&self, name: &str, videos: bool, class: Class) -> anyhow::Result<Plan> {
        let (pool, cap) = (&self.mirror.pool, self.mirror.settings.max_requests_per_run);
        Ok(match class {
            Class::New => Plan {
                changed: child_refreshes::unfetched(pool, name, videos, cap).await?,
                ..Plan::default()
            },
            Class::Round => {
                Plan { active: child_refreshes::round(pool, name, videos, cap).await?, ..Plan::default() }
            }
            Class::Overdue | Class::Rotation => Plan {
                rotation: child_refreshes::rotation(pool, name, videos, cap).await?,
                ..Plan::default()
            },
        })
    }

    /// Steps until `cancel` fires, each run logged and counted; `after` is
    /// called after each list walk (the daemon prunes old jobs there).
    pub async fn continuous(&self, cancel: &CancellationToken, after: impl Fn()) {
        let pause = Duration::from_secs_f64(self.min_gap());
        let mut bound = false;
        while !cancel.is_cancelled() {
            let rest = match self.account_then_step(&mut bound, cancel).await {
                Ok(Some(Step::Ran { run, cut })) => {
                    let idle = rests_after(run.tally.requests, run.status.succeeded(), cut);
                    tracing::info!(kind = run.kind, "continuous sync {run}");
                    meter::run_finished(&run);
                    if run.kind != "children" {
                        after();
                    }
                    idle
                }
                Ok(Some(Step::Skipped(stream))) => {
                    tracing::debug!(stream, "another process is refreshing this stream");
                    true
                }
                Ok(Some(Step::Idle)) => true,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "continuous sync failed");
                    bound = false;
                    true
                }
            };
            if rest {
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = cancel.cancelled() => return,
                }
            }
        }
    }

    /// The account check once (again after a failure), then one step.
    /// `None`: stopped while `GET /me` waited for the budget.
    async fn account_then_step(
        &self,
        bound: &mut bool,
        cancel: &CancellationToken,
    ) -> anyhow::Result<Option<Step>> {
        if !*bound {
            if !self.account().await? {
                return Ok(None);
            }
            *bound = true;
        }
        self.step_once(cancel).await.map(Some)
    }
}

/// Whether the loop pauses after a run: it failed, or it sent nothing
/// though nothing stopped it (there was nothing to do). A children run the
/// next walk's turn cut before it sent anything is followed at once by the walk.
fn rests_after(requests: u64, succeeded: bool, cut: bool) -> bool {
    !succeeded || (requests == 0 && !cut)
}

#[cfg(test)]
mod tests {
    use super::rests_after;

    #[test]
    fn the_loop_pauses_after_a_failure_or_a_run_with_nothing_to_do_never_after_one_the_walks_turn_cut() {
        assert!(rests_after(0, true, false), "nothing to do");
        assert!(rests_after(12, false, false) && rests_after(0, false, true), "failed");
        assert!(!rests_after(12, true, false), "busy");
        assert!(!rests_after(0, true, true), "cut before its first send: the walk is due now");
    }
}
