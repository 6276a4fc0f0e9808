//! The daemon's replay: drain the queue, then sleep until the jobs table's
//! NOTIFY on [`CHANNEL`], the poll interval or the stop. [`replay_loop`] wraps
//! [`super::drain`]; what each drain did goes to the observer it is given
//! (the daemon's metrics), so the queue calls nothing above it.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use super::{DrainReport, Replayer, drain};

/// The channel the jobs migration's trigger notifies on each enqueue.
pub const CHANNEL: &str = "tokportal_mutation_jobs";
/// After the API refused the key, replay waits this long before trying again.
const KEY_REFUSED_PAUSE: Duration = Duration::from_secs(60);

/// Drains the queue, then sleeps until a NOTIFY, the poll interval
/// (`jobs.poll_interval_secs`: retries come due without a NOTIFY, and a
/// notification can be lost while the listener reconnects) or the stop.
pub async fn replay_loop(
    r: Replayer,
    concurrency: u32,
    poll: Duration,
    stop: CancellationToken,
    observe: impl Fn(&DrainReport),
) {
    let mut listener = listen(&r.pool).await;
    while !stop.is_cancelled() {
        let mut pause = poll;
        match drain(&r, concurrency, &stop).await {
            Ok(report) => {
                observe(&report);
                if report.succeeded + report.failed + report.expired + report.retrying > 0 {
                    tracing::info!("{report}");
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
