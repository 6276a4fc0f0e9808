//! The back-off of one request's consecutive 429s, on top of the server's wait.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

use super::Budget;
use crate::api::headers::seconds;

/// Consecutive 429s of one request; see [`Budget::streak`].
pub struct Streak {
    extra: backon::ExponentialBackoff,
}

impl Streak {
    /// How long to block the key after one more 429, the server having asked
    /// for `server_wait`.
    pub fn next_wait(&mut self, server_wait: Duration) -> Duration {
        server_wait.saturating_add(self.extra.next().unwrap_or_default())
    }
}

impl Budget {
    /// The 429s of one request: each wait is the server's, plus an extra
    /// that doubles with every consecutive 429 (from one send interval, with
    /// jitter so processes that were blocked together do not return together).
    pub fn streak(&self) -> Streak {
        let interval = seconds(self.state().shape.rule.interval);
        let extra = ExponentialBuilder::default()
            .with_min_delay(interval)
            .with_factor(2.0)
            .with_max_delay(Duration::from_secs(60).max(interval))
            .with_jitter()
            .without_max_times()
            .build();
        Streak { extra }
    }
}
