//! `worker sync [--stream NAME]`: walks the configured streams once (no
//! replay), each under its lock, and prints one summary line per stream and
//! one for the whole sync. Exit status 1 when a stream failed; 0 when a
//! signal stopped it at a page boundary (it resumes next run).

use tokio_util::sync::CancellationToken;

use crate::cli::SyncArgs;
use crate::config::Config;
use crate::mirror;
use crate::startup::App;
use crate::{progress, shutdown, telemetry};

pub async fn run(args: SyncArgs, config: &Config) -> anyhow::Result<()> {
    let app = App::connect(config).await?;
    let stop = CancellationToken::new();
    shutdown::cancel_on_signal(stop.clone());
    let mut scheduler = app.cancelled_by(&stop).scheduler()?;
    if let Some(name) = &args.stream {
        scheduler.streams = mirror::ORDER.iter().copied().filter(|s| s == name).collect();
    }
    let bars = progress::Bars::start(config.api.rate_per_second);
    let tick = shutdown::bounded(&stop, config.server.shutdown_timeout, scheduler.tick_once(&stop)).await;
    drop(bars);
    let Some(tick) = tick else {
        anyhow::bail!("stopped by a signal without finishing the request in flight; the next run resumes");
    };
    let tick = tick?;
    for run in &tick.runs {
        telemetry::summary(&run.to_string());
    }
    telemetry::summary(&format!("sync {tick}"));
    tick.into_result()
}
