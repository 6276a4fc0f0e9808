//! `worker sync [--stream NAME] [--plan [--json]]`: walks the configured
//! streams once (no replay), each under its lock, and prints one summary line
//! per stream and one for the whole sync. Exit status 1 when a stream failed;
//! 0 when a signal stopped it at a page boundary (it resumes next run).
//! `--plan` sends nothing: it prints what each stream's run would cost now.

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
    if args.plan {
        return plan(&scheduler.mirror, &scheduler.streams, config, args.json).await;
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

async fn plan(m: &mirror::Mirror, streams: &[&str], config: &Config, json: bool) -> anyhow::Result<()> {
    let estimates = mirror::plan::estimate(m, streams).await?;
    let rate = config.api.rate_per_second;
    let total: u64 = estimates.iter().map(|e| e.requests).sum();
    let up_to: u64 = estimates.iter().map(|e| e.up_to).sum();
    if json {
        let streams: Vec<serde_json::Value> = estimates
            .iter()
            .map(|e| {
                let mut v = serde_json::to_value(e).unwrap_or_default();
                v["seconds_at_budget"] = serde_json::json!(mirror::plan::seconds_at(e.requests, rate));
                v
            })
            .collect();
        let body = serde_json::json!({
            "streams": streams,
            "requests": total,
            "up_to": up_to,
            "rate_per_second": rate,
            "burst": config.api.burst,
            "seconds_at_budget": mirror::plan::seconds_at(total, rate),
            "seconds_from_a_full_bucket": mirror::plan::seconds_at(total.saturating_sub(u64::from(config.api.burst)), rate),
        });
        crate::outln!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(());
    }
    let width = estimates.iter().map(|e| e.stream.len()).max().unwrap_or(6).max(6);
    crate::outln!("{:width$}  {:8}  {:>8}  {:>10}  basis", "stream", "run", "requests", "at budget");
    for e in &estimates {
        let requests = match e.up_to {
            0 => e.requests.to_string(),
            n => format!("{}+{n}", e.requests),
        };
        crate::outln!(
            "{:width$}  {:8}  {:>8}  {:>9.1}s  {}{}",
            e.stream,
            e.run,
            requests,
            mirror::plan::seconds_at(e.requests, rate),
            e.basis,
            if e.up_to > 0 { format!("; up to {} delete checks", e.up_to) } else { String::new() }
        );
    }
    let burst = u64::from(config.api.burst);
    crate::outln!(
        "plan: {total} requests{} at {rate}/s: {:.1} s, or {:.1} s from a full bucket of {burst}; nothing was sent",
        if up_to > 0 { format!(" (and up to {up_to} delete checks)") } else { String::new() },
        mirror::plan::seconds_at(total, rate),
        mirror::plan::seconds_at(total.saturating_sub(burst), rate),
    );
    Ok(())
}
