//! A claim kept alive while its work is in flight. A dead worker's claim
//! ends with its Postgres session (`crate::db::owner`); the lease is the
//! fallback for a worker whose session lives on but that stopped renewing
//! (hung, or cut off from its pool). It is renewed every
//! [`super::Settings::heartbeat_every`] by the claim's own token, so a live
//! worker's slow send is never taken over and a claim taken over (its
//! session ended, or its renewals failed for a whole lease) is never renewed again.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

/// Runs `work` while calling `renew` every `every`. `renew` answers whether
/// the claim is still ours; once it is not, renewing stops (the work goes on:
/// its outcome is recorded only if the claim is still current). A failed
/// renewal is logged and tried again at the next beat.
pub async fn while_renewing<T, R, F>(every: Duration, renew: R, work: impl Future<Output = T>) -> T
where
    R: FnMut() -> F,
    F: Future<Output = anyhow::Result<bool>>,
{
    tokio::select! {
        biased;
        out = work => out,
        never = beat(every, renew) => match never {},
    }
}

async fn beat<R, F>(every: Duration, mut renew: R) -> Infallible
where
    R: FnMut() -> F,
    F: Future<Output = anyhow::Result<bool>>,
{
    loop {
        tokio::time::sleep(every).await;
        match renew().await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!("the claim was taken over while its work was in flight; no longer renewed");
                return std::future::pending().await;
            }
            Err(e) => tracing::warn!(error = format!("{e:#}"), "failed to renew a claim; trying again"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_claim_is_renewed_while_its_work_runs_and_not_after_it_was_taken_over() {
        let beats = Arc::new(AtomicU32::new(0));
        let counted = beats.clone();
        let renew = move || {
            let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
            async move { Ok(n < 3) }
        };
        let work = tokio::time::sleep(Duration::from_secs(10));
        while_renewing(Duration::from_secs(1), renew, work).await;
        assert_eq!(beats.load(Ordering::SeqCst), 3, "renewed until the claim was no longer ours");
    }
}
