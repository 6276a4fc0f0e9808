//! What one tick did, stream by stream: its one-line summary (the
//! [`Display`](std::fmt::Display) `worker sync`, `--once` and the daemon
//! print) and the result a command exits with.

use std::fmt;

use crate::mirror::{RunSummary, Status};

/// What one tick did, stream by stream.
#[derive(Debug, Default)]
pub struct Tick {
    pub runs: Vec<RunSummary>,
    /// Streams another process was walking.
    pub skipped: Vec<&'static str>,
    /// Streams not started because the tick was cancelled first.
    pub not_started: Vec<&'static str>,
}

impl Tick {
    /// The error of the first stream that failed, if one did. An interrupted
    /// stream (a signal, `--max-duration`) is not a failure: it resumes next run.
    pub fn into_result(self) -> anyhow::Result<()> {
        let failed = self.runs.into_iter().find(|r| r.status == Status::Failed);
        match failed {
            None => Ok(()),
            Some(RunSummary { error: Some(e), stream, .. }) => {
                Err(e.context(format!("stream {stream} failed")))
            }
            Some(run) => anyhow::bail!("stream {} failed", run.stream),
        }
    }

    /// Whether a stream was left for the next run (not started, or stopped between pages).
    pub fn stopped_early(&self) -> bool {
        !self.not_started.is_empty() || self.runs.iter().any(|r| r.status == Status::Interrupted)
    }
}

/// One line for a whole tick: each stream's status and the totals.
impl fmt::Display for Tick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut streams: Vec<String> =
            self.runs.iter().map(|r| format!("{} {}", r.stream, r.status.as_str())).collect();
        streams.extend(self.skipped.iter().map(|s| format!("{s} skipped (another process is walking it)")));
        streams.extend(self.not_started.iter().map(|s| format!("{s} not started")));
        let sum = |f: fn(&RunSummary) -> u64| self.runs.iter().map(f).sum::<u64>();
        write!(
            f,
            "{}: {} pages, {} inserted, {} updated, {} deleted, {} requests, {} answered 429",
            if streams.is_empty() { "no stream".to_string() } else { streams.join(", ") },
            sum(|r| r.tally.pages),
            sum(|r| r.tally.inserted),
            sum(|r| r.tally.updated),
            sum(|r| r.tally.deleted),
            sum(|r| r.tally.requests),
            sum(|r| r.tally.rate_limited),
        )
    }
}
