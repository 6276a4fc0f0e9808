//! `worker --once [--max-duration D]`: one cycle (migrate, replay every due
//! job, sync every configured stream) and exit. Exit status: 0 the cycle
//! completed (jobs that failed for business reasons are in the summary, not
//! in the status), also when `--max-duration` or a signal stopped it at a
//! page boundary; 1 a stream was not walked completely or Postgres failed;
//! 3 the API refused the key.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::jobs::{self, DrainReport, Replayer};
use crate::mirror::{Mirror, Status};
use crate::schedule::{self, Tick};
use crate::{db, progress, shutdown, startup, telemetry};

/// What one cycle did.
struct Cycle {
    replay: DrainReport,
    tick: Tick,
}

pub async fn run(max_duration: Option<Duration>, config: &Config) -> anyhow::Result<()> {
    let started = Instant::now();
    let pool = startup::require_pool(config).await?;
    let applied = db::migrate(&pool).await?;
    if applied > 0 {
        tracing::info!(applied, "migrations applied");
    }
    let stop = CancellationToken::new();
    shutdown::cancel_on_signal(stop.clone());
    let cycle = stop.child_token();
    if let Some(limit) = max_duration {
        let cycle = cycle.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(limit) => {
                    tracing::info!(max_duration_secs = limit.as_secs(), "--max-duration reached: stopping at the next page boundary");
                    cycle.cancel();
                }
                () = cycle.cancelled() => {}
            }
        });
    }
    let bars = progress::Bars::start(config.api.rate_per_second);
    let done =
        shutdown::bounded(&stop, config.server.shutdown_timeout, one_cycle(config, &pool, &cycle)).await;
    let deadline_hit = cycle.is_cancelled() && !stop.is_cancelled();
    cycle.cancel();
    drop(bars);
    let Some(done) = done else {
        anyhow::bail!("stopped by a signal without finishing the request in flight; the next run resumes");
    };
    let c = done?;
    for run in &c.tick.runs {
        telemetry::summary(&run.to_string());
    }
    let stopped_early =
        c.tick.not_started.len() + c.tick.runs.iter().filter(|r| r.status == Status::Interrupted).count() > 0;
    let why = if stop.is_cancelled() {
        Some("stopped by a signal".to_string())
    } else if deadline_hit {
        max_duration.map(|d| format!("stopped at --max-duration {}s", d.as_secs()))
    } else {
        None
    };
    let elapsed = started.elapsed().as_secs_f64();
    let ended = match (&why, stopped_early) {
        (Some(why), true) => format!("{why} at a page boundary, every page committed; resumes next run"),
        _ => "completed".into(),
    };
    telemetry::summary(&format!(
        "cycle {ended} in {elapsed:.1} s: {}; {}",
        replay_line(&c.replay),
        super::sync::tick_line(&c.tick)
    ));
    if let Some(e) = c.replay.key_refused {
        return Err(anyhow::Error::new(e)
            .context("replay stopped: the API refused the key; the job is back in the queue"));
    }
    super::sync::tick_result(c.tick)
}

/// Replay, then sync, each stopping at `cancel`.
async fn one_cycle(
    config: &Config,
    pool: &sqlx::PgPool,
    cancel: &CancellationToken,
) -> anyhow::Result<Cycle> {
    // Waits for the budget end at `cancel` (a signal, --max-duration): a job
    // still waiting is released unsent, a page not yet fetched is left.
    let write = startup::write_client(&config.api, Some(pool)).await?.with_cancel(cancel.clone());
    let replayer = Replayer { pool: pool.clone(), client: write, settings: startup::jobs_settings(config) };
    let replay = jobs::drain(&replayer, config.jobs.concurrency, cancel).await?;
    crate::meter::drained(&replay);
    let client = startup::client(&config.api, Some(pool)).await?.with_cancel(cancel.clone());
    let m = Mirror::new(pool.clone(), client, startup::mirror_settings(config))
        .with_progress(std::sync::Arc::new(progress::Terminal));
    let tick = schedule::tick_once(&m, &schedule::streams(&config.sync.streams), cancel).await?;
    Ok(Cycle { replay, tick })
}

pub fn replay_line(r: &DrainReport) -> String {
    format!(
        "replay {} succeeded ({} replayed by the API), {} failed, {} expired, {} to retry later{}",
        r.succeeded,
        r.replayed,
        r.failed,
        r.expired,
        r.retrying,
        if r.released > 0 {
            format!(", {} not sent (stopping; still queued)", r.released)
        } else {
            String::new()
        }
    )
}
