//! What one run of a stream returns ([`Outcome`], [`RunSummary`], [`Status`]),
//! and the line a person reads at its end (`worker sync`, `worker --once`,
//! the demo): the [`Display`](std::fmt::Display) of a [`RunSummary`].

use std::fmt;

use super::context::Mirror;
use super::runs;
use super::tally::Tally;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Succeeded,
    /// Went on past items or bundles it set aside in `sync_problems`.
    SucceededWithProblems,
    Failed,
    /// Stopped between two pages (cancelled); the next run resumes.
    Interrupted,
}

impl Status {
    /// Every status, as the metrics label runs with them.
    pub const ALL: [Status; 4] =
        [Status::Succeeded, Status::SucceededWithProblems, Status::Failed, Status::Interrupted];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "succeeded",
            Status::SucceededWithProblems => "succeeded_with_problems",
            Status::Failed => "failed",
            Status::Interrupted => "interrupted",
        }
    }

    /// A run that succeeded past `problems` items or bundles set aside.
    pub fn with_problems(self, problems: u64) -> Status {
        match self {
            Status::Succeeded if problems > 0 => Status::SucceededWithProblems,
            other => other,
        }
    }

    /// The run did what it set out to do (with or without problems set aside).
    pub fn succeeded(self) -> bool {
        matches!(self, Status::Succeeded | Status::SucceededWithProblems)
    }
}

/// One run of one stream.
#[derive(Debug)]
pub struct RunSummary {
    pub run_id: i64,
    pub stream: &'static str,
    pub kind: &'static str,
    pub status: Status,
    pub complete: bool,
    pub resumed_from_page: Option<u32>,
    pub tally: Tally,
    pub note: Option<String>,
    /// Why the run failed; the error itself for callers that branch on it.
    pub error: Option<anyhow::Error>,
}

#[derive(Debug)]
pub enum Outcome {
    Ran(RunSummary),
    /// Another process is walking this stream.
    Skipped {
        stream: &'static str,
    },
}

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.tally;
        write!(
            f,
            "{}: {} ({}{}) run {}: {} pages, {} items, {} inserted, {} updated, {} unchanged, {} deleted, \
             {} requests, {} answered 429, {:.1} s waiting for budget{}",
            self.stream,
            self.status.as_str(),
            self.kind,
            self.resumed_from_page.map(|p| format!(" from page {p}")).unwrap_or_default(),
            self.run_id,
            t.pages,
            t.items,
            t.inserted,
            t.updated,
            t.unchanged,
            t.deleted,
            t.requests,
            t.rate_limited,
            t.budget_wait_secs,
            if t.problems > 0 {
                format!(", {} problems set aside (worker problems)", t.problems)
            } else {
                String::new()
            },
        )?;
        if let Some(note) = &self.note {
            write!(f, "; {note}")?;
        }
        if let Some(e) = &self.error {
            write!(f, "; error: {e:#}")?;
        }
        Ok(())
    }
}

impl RunSummary {
    /// Records the run's end in `tokportal.sync_runs` (status, counts, note,
    /// error) and returns it.
    pub(super) async fn recorded(self, m: &Mirror) -> anyhow::Result<RunSummary> {
        let message = self.error.as_ref().map(|e| format!("{e:#}"));
        let (status, note) = (self.status.as_str(), self.note.as_deref());
        runs::finish(&m.pool, self.run_id, status, self.complete, &self.tally, note, message.as_deref())
            .await?;
        Ok(self)
    }
}

/// The end of a run that is not a walk of pages (children, per-parent,
/// snapshot runs): `status` with the problems it set aside, complete when
/// it succeeded; recorded, then returned.
#[allow(clippy::too_many_arguments)]
pub(super) async fn finished(
    m: &Mirror,
    stream: &'static str,
    kind: &'static str,
    run_id: i64,
    status: Status,
    tally: Tally,
    note: Option<String>,
    error: Option<anyhow::Error>,
) -> anyhow::Result<RunSummary> {
    let status = status.with_problems(tally.problems);
    let complete = status.succeeded();
    RunSummary { run_id, stream, kind, status, complete, resumed_from_page: None, tally, note, error }
        .recorded(m)
        .await
}
