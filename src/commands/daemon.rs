//! `worker` with no subcommand: the daemon. One process runs the sync on
//! `sync.schedule` (or without pause, in continuous mode), replays jobs as they are enqueued (woken by the jobs
//! table's NOTIFY, polling as a fallback) and serves `/metrics` and
//! `/healthz` on `server.listen`, and the webhook receiver there too or alone
//! on `server.webhook_listen` (the one route the internet must reach),
//! refreshing what stored webhook events name. SIGTERM or SIGINT stops it: each task
//! finishes its unit and returns, within `server.shutdown_timeout_secs`.

use std::sync::{Arc, OnceLock};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, Schedule};
use crate::jobs::{listen, prune};
use crate::server::{self, AppState};
use crate::startup::App;
use crate::{db, meter, schedule, shutdown, webhooks};

pub async fn run(config: &Config) -> anyhow::Result<()> {
    let stop = CancellationToken::new();
    shutdown::cancel_on_signal(stop.clone());
    let metrics = meter::install()?;
    let listener = server::bind(config.server.listen, "server.listen").await?;
    let addr = listener.local_addr()?;
    let hook_listener = match config.server.webhook_listen {
        Some(at) => Some(server::bind(at, "server.webhook_listen").await?),
        None => None,
    };
    // Connected lazily: the daemon serves /healthz (503) while Postgres is
    // down or not migrated yet, and starts its work once it is both.
    let pool = db::connect_lazy(&config.database)?;
    let tracker = TaskTracker::new();
    let clients = Arc::new(OnceLock::new());
    let sources = meter::scrape::Sources {
        pool: pool.clone(),
        clients: clients.clone(),
        streams: schedule::streams(&config.sync.streams),
        started: chrono::Utc::now(),
    };
    let state = AppState { pool: pool.clone(), metrics, sources: Arc::new(sources) };
    let wake = Arc::new(Notify::new());
    let receiver = webhooks::Receiver {
        pool: pool.clone(),
        secrets: Arc::new(config.webhooks.secrets.clone()),
        tolerance: config.webhooks.tolerance,
        wake: wake.clone(),
    };
    let hook_addr = match hook_listener {
        Some(hook_listener) => {
            let hook_addr = hook_listener.local_addr()?;
            let hooks = webhooks::receiver::routes(receiver);
            tracker.spawn(log_errors("webhook server", server::serve(hook_listener, hooks, stop.clone())));
            tracker.spawn(log_errors("server", server::serve(listener, server::routes(state), stop.clone())));
            hook_addr
        }
        None => {
            let router = server::daemon_routes(state, receiver);
            tracker.spawn(log_errors("server", server::serve(listener, router, stop.clone())));
            addr
        }
    };
    tracing::info!(%addr, "serving /metrics and /healthz on http://{addr}");
    if config.webhooks.secrets.is_empty() {
        tracing::info!(
            "no TOKPORTAL_WEBHOOK_SECRET: POST {} refuses every delivery",
            webhooks::receiver::PATH
        );
    } else {
        tracing::info!(
            secrets = config.webhooks.secrets.len(),
            "receiving webhooks on http://{hook_addr}{}",
            webhooks::receiver::PATH
        );
    }

    if db::ready::wait_until_ready(&config.database, &pool, &stop).await {
        let app = App::build(config, pool.clone()).await?;
        let [sync, replay] = meter::CLIENTS;
        let _ = clients.set(vec![(sync, app.read()?.clone()), (replay, app.write()?.clone())]);
        // On SIGTERM a page, a job or a refresh still waiting for the budget
        // is left (the next run reads it, the job and the events stay queued)
        // instead of holding the stop.
        let app = app.cancelled_by(&stop);
        tracker.spawn(webhooks::run_with(
            app.refresher()?,
            webhooks::Limits::from(&config.webhooks),
            wake,
            stop.clone(),
        ));
        let prune_now = Arc::new(Notify::new());
        tracker.spawn(prune::prune_loop(
            pool.clone(),
            config.jobs.retention,
            prune_now.clone(),
            stop.clone(),
        ));
        let (scheduler, token) = (app.scheduler()?, stop.clone());
        match config.sync.schedule.clone() {
            Schedule::Cron(cron) => {
                tracker.spawn(async move { scheduler.run(&cron, &token, || prune_now.notify_one()).await });
            }
            Schedule::Continuous => {
                let reserve = config.sync.jobs_reserve + config.sync.refresh_reserve;
                let scheduler = scheduler.in_background(reserve);
                tracker.spawn(async move { scheduler.continuous(&token, || prune_now.notify_one()).await });
            }
        }
        tracker.spawn(listen::replay_loop(
            app.replayer()?,
            config.jobs.concurrency,
            config.jobs.poll_interval,
            stop.clone(),
            meter::drained,
        ));
        tracing::info!(schedule = %config.sync.schedule, "daemon running: sync on schedule, replay on NOTIFY");
    }
    stop.cancelled().await;
    if !shutdown::drain(&tracker, config.server.shutdown_timeout).await {
        anyhow::bail!(
            "the work in flight did not stop within server.shutdown_timeout_secs ({:.0} s); exiting anyway",
            config.server.shutdown_timeout.as_secs_f64()
        );
    }
    tracing::info!("stopped");
    Ok(())
}

async fn log_errors(task: &'static str, work: impl std::future::Future<Output = anyhow::Result<()>>) {
    if let Err(e) = work.await {
        tracing::error!(task, error = format!("{e:#}"), "task failed");
    }
}
