//! `worker --once [--max-duration D]`: one cycle (migrate, replay every due
//! job, sync every configured stream) and exit. Exit status: 0 the cycle
//! completed (jobs that failed for business reasons are in the summary, not
//! in the status), also when `--max-duration` or a signal stopped it at a
//! page boundary; 1 a stream was not walked completely or Postgres failed;
//! 3 the API refused the key.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::schedule::cycle;
use crate::startup::{self, App};
use crate::{db, progress, shutdown, telemetry};

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
    let app = App::build(config, pool).await?.cancelled_by(&cycle);
    let bars = progress::Bars::start(config.api.rate_per_second);
    let work = async {
        let (replayer, scheduler) = (app.replayer()?, app.scheduler()?);
        cycle::cycle_once(&replayer, config.jobs.concurrency, &scheduler, &cycle).await
    };
    let done = shutdown::bounded(&stop, config.server.shutdown_timeout, work).await;
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
    let why = if stop.is_cancelled() {
        Some("stopped by a signal".to_string())
    } else if deadline_hit {
        max_duration.map(|d| format!("stopped at --max-duration {}s", d.as_secs()))
    } else {
        None
    };
    telemetry::summary(&c.summary(why.as_deref(), started.elapsed()));
    c.into_result()
}
