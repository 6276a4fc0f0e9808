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
    Ran(RunSummary),
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
        let now = staleness::now(&m.pool, &self.streams, m.settings.children_full_refresh).await?;
        let outcome = match pick::pick(&now, gap) {
            None => return Ok(Step::Idle),
            Some(Pick::Walk(stream)) => mirror::sync_stream_once(m, stream, cancel).await?,
            Some(Pick::Children { stream, class }) => {
                let until = pick::walk_due_in(&now, gap)
                    .map(|s| Instant::now() + Duration::from_secs_f64(s.max(gap)));
                self.children_once(stream, class, until, cancel).await?
            }
        };
        Ok(match outcome {
            Outcome::Ran(run) => Step::Ran(run),
            Outcome::Skipped { stream } => Step::Skipped(stream),
        })
    }

    async fn children_once(
        &self,
        name: &'static str,
        class: Class,
        until: Option<Instant>,
        cancel: &CancellationToken,
    ) -> anyhow::Result<Outcome> {
        let m = &self.mirror;
        let Some(Stream::Children(stream)) = streams::find(name) else {
            anyhow::bail!("{name} is not a child stream");
        };
        let Some(held) = lock::try_lock(&m.pool, name).await? else {
            return Ok(Outcome::Skipped { stream: name });
        };
        let result = match self.plan(name, stream.videos, class).await {
            Ok(plan) => children::run_planned(m, stream, plan, until, cancel).await,
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
            Class::Changed => Plan {
                changed: child_refreshes::changed(pool, name, videos, cap).await?.0,
                ..Plan::default()
            },
            Class::Active => Plan {
                active: child_refreshes::active(pool, name, videos, Duration::ZERO, cap).await?.0,
                ..Plan::default()
            },
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
                Ok(Some(Step::Ran(run))) => {
                    let idle = run.tally.requests == 0 || !run.status.succeeded();
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
