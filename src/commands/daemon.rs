//! `worker` with no subcommand: the daemon. One process runs the sync on
//! `sync.schedule`, replays jobs as they are enqueued (woken by the jobs
//! table's NOTIFY, polling as a fallback) and serves `/metrics` and
//! `/healthz` and the webhook receiver on `server.listen`, refreshing what
//! stored webhook events name. SIGTERM or SIGINT stops it: each task
//! finishes its unit and returns, within `server.shutdown_timeout_secs`.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::jobs::{self, Replayer};
use crate::mirror::Mirror;
use crate::server::{self, AppState};
use crate::{db, meter, schedule, shutdown, startup, webhooks};

/// The channel the jobs migration's trigger notifies on each enqueue.
pub const CHANNEL: &str = "tokportal_mutation_jobs";
/// After the API refused the key, replay waits this long before trying again.
const KEY_REFUSED_PAUSE: Duration = Duration::from_secs(60);
/// Finished jobs past `jobs.retention_days` are pruned at start, this often,
/// and after each scheduled sync.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How often a daemon started before `worker migrate` checks again.
const MIGRATION_POLL: Duration = Duration::from_secs(1);

pub async fn run(config: &Config) -> anyhow::Result<()> {
    let stop = CancellationToken::new();
    shutdown::cancel_on_signal(stop.clone());
    let metrics = meter::install()?;
    let listener = server::bind(config.server.listen).await?;
    let addr = listener.local_addr()?;
    // Connected lazily: the daemon serves /healthz (503) while Postgres is
    // down or not migrated yet, and starts its work once it is both.
    let pool = db::connect_lazy(&config.database)?;
    let tracker = TaskTracker::new();
    let clients = Arc::new(OnceLock::new());
    let state = AppState { pool: pool.clone(), metrics, clients: clients.clone() };
    let wake = Arc::new(Notify::new());
    let receiver = webhooks::Receiver {
        pool: pool.clone(),
        secrets: Arc::new(config.webhooks.secrets.clone()),
        tolerance: config.webhooks.tolerance,
        wake: wake.clone(),
    };
    let router = server::daemon_routes(state, receiver);
    tracker.spawn(log_errors("server", server::serve(listener, router, stop.clone())));
    tracing::info!(%addr, "serving /metrics and /healthz on http://{addr}");
    if config.webhooks.secrets.is_empty() {
        tracing::info!(
            "no TOKPORTAL_WEBHOOK_SECRET: POST {} refuses every delivery",
            webhooks::receiver::PATH
        );
    } else {
        tracing::info!(
            secrets = config.webhooks.secrets.len(),
            "receiving webhooks on http://{addr}{}",
            webhooks::receiver::PATH
        );
    }

    if wait_for_database(config, &pool, &stop).await {
        let sync_client = startup::client(&config.api, Some(&pool)).await?;
        let write_client = startup::write_client(&config.api, Some(&pool)).await?;
        let _ = clients.set(vec![("sync", sync_client.clone()), ("replay", write_client.clone())]);
        // Someone waits for a refresh: its requests go ahead of the walk's
        // pages, within the share `webhooks.walk_share` leaves them.
        let walk_share = config.webhooks.walk_share;
        let refresher = webhooks::Refresher {
            pool: pool.clone(),
            // A refresh still waiting for the budget at a stop is not sent:
            // its events are released for the next run.
            client: sync_client
                .with_priority(crate::api::Priority::Refresh { walk_share })
                .with_cancel(stop.clone()),
            window: config.webhooks.coalesce,
        };
        tracker.spawn(webhooks::run_with(
            refresher,
            webhooks::Limits::from(&config.webhooks),
            wake,
            stop.clone(),
        ));
        // On SIGTERM a page or job still waiting for the budget is left (the
        // next run reads it, the job stays queued) instead of holding the stop.
        let m = Mirror::new(
            pool.clone(),
            sync_client.with_cancel(stop.clone()),
            startup::mirror_settings(config),
        );
        let prune_now = Arc::new(Notify::new());
        tracker.spawn(prune_loop(pool.clone(), config.jobs.retention, prune_now.clone(), stop.clone()));
        let streams = schedule::streams(&config.sync.streams);
        let sched = config.sync.schedule.clone();
        let token = stop.clone();
        tracker.spawn(async move {
            schedule::run(&sched, &token, || async {
                match schedule::tick_once(&m, &streams, &token).await {
                    Ok(tick) => tracing::info!("scheduled sync {}", super::sync::tick_line(&tick)),
                    Err(e) => tracing::error!(error = format!("{e:#}"), "scheduled sync failed"),
                }
                prune_now.notify_one();
            })
            .await
        });
        let replayer = Replayer {
            pool: pool.clone(),
            client: write_client.with_cancel(stop.clone()),
            settings: startup::jobs_settings(config),
        };
        tracker.spawn(replay_loop(
            replayer,
            config.jobs.concurrency,
            config.jobs.poll_interval,
            stop.clone(),
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

/// Waits until Postgres answers and every migration is applied (`/healthz`
/// says 503 meanwhile), saying once what it waits for; false when stopped first.
async fn wait_for_database(config: &Config, pool: &PgPool, stop: &CancellationToken) -> bool {
    let mut said = None;
    loop {
        let waiting = match db::reachable(&config.database).await {
            Err(e) => Some(("postgres", e, "waiting for Postgres; /healthz answers 503 until it is up")),
            Ok(()) => match db::ensure_migrated(pool).await {
                Ok(()) => return true,
                Err(e) => Some(("migrations", e, "waiting for the migrations (worker migrate)")),
            },
        };
        if let Some((what, e, message)) = waiting
            && said != Some(what)
        {
            tracing::warn!(error = format!("{e:#}"), "{message}");
            said = Some(what);
        }
        tokio::select! {
            () = tokio::time::sleep(MIGRATION_POLL) => {}
            () = stop.cancelled() => return false,
        }
    }
}

/// Drains the queue, then sleeps until a NOTIFY, the poll interval
/// (`jobs.poll_interval_secs`: retries come due without a NOTIFY, and a
/// notification can be lost while the listener reconnects) or the stop.
async fn replay_loop(r: Replayer, concurrency: u32, poll: Duration, stop: CancellationToken) {
    let mut listener = listen(&r.pool).await;
    while !stop.is_cancelled() {
        let mut pause = poll;
        match jobs::drain(&r, concurrency, &stop).await {
            Ok(report) => {
                meter::drained(&report);
                if report.succeeded + report.failed + report.expired + report.retrying > 0 {
                    tracing::info!("{}", super::once::replay_line(&report));
                }
                if let Some(e) = report.key_refused {
                    tracing::error!(error = %e, "the API refused the key: replay pauses; fix the key");
                    pause = KEY_REFUSED_PAUSE;
                }
            }
            Err(e) => tracing::error!(error = format!("{e:#}"), "replay failed; trying again shortly"),
        }
        let notified = async {
            match listener.as_mut() {
                Some(l) if pause == poll => l.recv().await.map(drop).map_err(|e| e.to_string()),
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            woke = notified => if let Err(e) = woke {
                tracing::warn!(error = e, "lost the LISTEN connection; polling until it is back");
                listener = None;
            },
            () = tokio::time::sleep(pause) => {
                if listener.is_none() {
                    listener = listen(&r.pool).await;
                }
            }
            () = stop.cancelled() => {}
        }
    }
}

/// Prunes old finished jobs at start, every [`PRUNE_EVERY`] and when woken
/// (after each scheduled sync), until the stop.
async fn prune_loop(pool: PgPool, retention: Duration, wake: Arc<Notify>, stop: CancellationToken) {
    let mut every = tokio::time::interval(PRUNE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = wake.notified() => {}
            () = stop.cancelled() => return,
        }
        if let Err(e) = super::replay::prune(&pool, retention).await {
            tracing::warn!(error = format!("{e:#}"), "pruning old jobs failed; trying again later");
        }
    }
}

async fn listen(pool: &PgPool) -> Option<PgListener> {
    let mut listener = match PgListener::connect_with(pool).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "cannot LISTEN for new jobs; polling every jobs.poll_interval_secs");
            return None;
        }
    };
    match listener.listen(CHANNEL).await {
        Ok(()) => Some(listener),
        Err(e) => {
            tracing::warn!(error = %e, "cannot LISTEN for new jobs; polling every jobs.poll_interval_secs");
            None
        }
    }
}

async fn log_errors(task: &'static str, work: impl std::future::Future<Output = anyhow::Result<()>>) {
    if let Err(e) = work.await {
        tracing::error!(task, error = format!("{e:#}"), "task failed");
    }
}
