//! `worker replay`: sends every due mutation job once and exits, then prunes
//! old finished jobs. Exit status 3 when the API refused the key (the job it
//! was sending is back in the queue, untouched). SIGTERM or SIGINT stops it
//! after the job in flight, exit status 0.

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::jobs::{self, prune};
use crate::startup::App;
use crate::{shutdown, telemetry};

pub async fn run(config: &Config) -> anyhow::Result<()> {
    let app = App::connect(config).await?;
    let cancel = CancellationToken::new();
    let replayer = app.cancelled_by(&cancel).replayer()?;
    // SIGTERM or SIGINT: the job in flight is sent and recorded, the rest
    // stay queued (like the daemon), within server.shutdown_timeout_secs.
    shutdown::cancel_on_signal(cancel.clone());
    let drained = jobs::drain(&replayer, config.jobs.concurrency, &cancel);
    let Some(report) = shutdown::bounded(&cancel, config.server.shutdown_timeout, drained).await else {
        anyhow::bail!(
            "the job in flight did not stop within server.shutdown_timeout_secs ({:.0} s); its claim ends with this process and it is retried with the same key",
            config.server.shutdown_timeout.as_secs_f64()
        );
    };
    let report = report?;
    if cancel.is_cancelled() {
        telemetry::summary("replay: stopped by a signal; the jobs not sent stay queued for the next run");
    }
    telemetry::summary(&format!(
        "replay: {} succeeded ({} replayed by the API), {} to retry later, {} failed, {} expired, {} superseded, {} not sent (stopping; still queued)",
        report.succeeded,
        report.replayed,
        report.retrying,
        report.failed,
        report.expired,
        report.superseded,
        report.released
    ));
    if let Some(e) = report.key_refused {
        let which =
            if config.api.write_key.is_some() { "TOKPORTAL_WRITE_API_KEY" } else { "TOKPORTAL_API_KEY" };
        return Err(anyhow::Error::new(e).context(format!(
            "replay stopped: the API refused the key ({which}); the job is back in the queue"
        )));
    }
    prune::prune(app.pool(), config.jobs.retention).await?;
    Ok(())
}
