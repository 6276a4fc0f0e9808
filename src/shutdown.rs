//! Stopping cleanly: SIGTERM and SIGINT cancel one [`CancellationToken`];
//! the long-running tasks live in a [`TaskTracker`] and, once cancelled,
//! finish their unit (the request in flight, the page's transaction, the
//! claimed job's record) and return. [`drain`] bounds how long that may take
//! (`server.shutdown_timeout_secs`).

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Cancels `token` on the first SIGTERM or SIGINT. A second signal is left to
/// the default handler only after the first: the operator's second Ctrl-C
/// still finds this task waiting, so it is logged, and the process stops at
/// [`drain`]'s deadline at the latest.
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let signal = tokio::select! {
            s = terminate() => s,
            () = token.cancelled() => return,
        };
        tracing::warn!(signal, "stopping: finishing the work in flight (the next run resumes the rest)");
        token.cancel();
    });
}

/// Waits for SIGTERM or SIGINT and says which.
async fn terminate() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = tokio::signal::ctrl_c() => "SIGINT",
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops the worker cleanly");
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}

/// Closes `tracker` and waits for its tasks; false when they were still
/// running after `timeout` (they are then abandoned: a page not committed is
/// read again next run, a claimed job's claim ends with the process's
/// Postgres session and it is retried with the same key).
pub async fn drain(tracker: &TaskTracker, timeout: Duration) -> bool {
    tracker.close();
    tokio::time::timeout(timeout, tracker.wait()).await.is_ok()
}

/// Runs `work` to its end, or, once `token` is cancelled, for at most
/// `timeout` more. `None` when it had to be abandoned.
pub async fn bounded<F: Future>(token: &CancellationToken, timeout: Duration, work: F) -> Option<F::Output> {
    tokio::select! {
        out = work => Some(out),
        () = async {
            token.cancelled().await;
            tokio::time::sleep(timeout).await;
        } => {
            tracing::error!(
                timeout_secs = timeout.as_secs_f64(),
                "the work in flight did not stop within server.shutdown_timeout_secs; exiting anyway"
            );
            None
        }
    }
}
