//! One cycle, what `worker --once` runs: every due job replayed, then every
//! configured stream synced, each stopping at the cancel token (a signal,
//! `--max-duration`); its summary line, and the result the command exits with.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Scheduler, Tick};
use crate::jobs::{self, DrainReport, Replayer};
use crate::meter;

/// What one cycle did.
#[derive(Debug)]
pub struct Cycle {
    pub replay: DrainReport,
    pub tick: Tick,
}

/// Replays with `concurrency` tasks, then runs one tick; both stop at
/// `cancel` (a job still waiting for the budget is released unsent, a page
/// not yet fetched is left for the next run).
pub async fn cycle_once(
    replayer: &Replayer,
    concurrency: u32,
    scheduler: &Scheduler,
    cancel: &CancellationToken,
) -> anyhow::Result<Cycle> {
    let replay = jobs::drain(replayer, concurrency, cancel).await?;
    meter::drained(&replay);
    // The key replay was refused with refuses every request: the sync would
    // only meet the same 401 again. A separate write key says nothing of the read key.
    let same_key = replayer.client.key_fingerprint() == scheduler.mirror.client.key_fingerprint();
    if replay.key_refused.is_some() && same_key {
        let tick = Tick { not_started: scheduler.streams.clone(), ..Tick::default() };
        return Ok(Cycle { replay, tick });
    }
    let tick = scheduler.tick_once(cancel).await?;
    Ok(Cycle { replay, tick })
}

impl Cycle {
    /// The cycle's summary line; `why` says what stopped it early (a signal,
    /// `--max-duration`), if something did.
    pub fn summary(&self, why: Option<&str>, elapsed: Duration) -> String {
        let ended = match why {
            Some(why) if self.tick.stopped_early() => {
                format!("{why} at a page boundary, every page committed; resumes next run")
            }
            _ => "completed".into(),
        };
        // How long this cycle ran, said as such: not a wait before the next one.
        format!("cycle ran {:.1} s and {ended}: {}; {}", elapsed.as_secs_f64(), self.replay, self.tick)
    }

    /// An error when the API refused the key or a stream failed.
    pub fn into_result(self) -> anyhow::Result<()> {
        if let Some(e) = self.replay.key_refused {
            return Err(anyhow::Error::new(e)
                .context("replay stopped: the API refused the key; the job is back in the queue"));
        }
        self.tick.into_result()
    }
}
