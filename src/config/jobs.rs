//! `[jobs]`, validated: the mutation queue's settings in the types the queue
//! uses, and the checks between them (a key lifetime the API keeps, an
//! expiry margin wider than a send, a lease and the clocks' skew).

use std::time::Duration;

use super::duration::positive_secs;
use super::{ConfigError, JobsSection};

/// The mutation queue's settings (`jobs.*`), validated.
#[derive(Debug, Clone)]
pub struct JobsConfig {
    pub key_lifetime: Duration,
    pub expiry_margin: Duration,
    pub retention: Duration,
    pub lease: Duration,
    /// The longest one send may take: `api.timeout_secs` + `api.max_wait_secs` and a margin.
    pub send_timeout: Duration,
    pub concurrency: u32,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    pub in_progress_delay: Duration,
    pub poll_interval: Duration,
}

/// How long the API keeps an idempotency key (the reference: 24 h).
pub const KEY_LIFETIME_MAX: Duration = Duration::from_secs(86_400);

/// How far the clocks of Postgres and of the API may disagree: the expiry
/// margin must cover it on top of the lease and the longest send.
pub const CLOCK_SKEW: Duration = Duration::from_secs(300);

/// A claim is renewed every third of its lease: shorter than this and a slow
/// round trip to Postgres could let it end under a live worker.
pub const LEASE_MIN: Duration = Duration::from_secs(1);

/// `[jobs]` into [`JobsConfig`]. `longest_send` (`api.timeout_secs` plus
/// `api.max_wait_secs`) is what the expiry margin must leave room for.
pub fn validate(
    j: &JobsSection,
    longest_send: Duration,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<JobsConfig, ConfigError> {
    let secs = |key: &str, value: f64| {
        positive_secs(value)
            .ok_or_else(|| invalid(key, format!("must be a positive number of seconds, got {value}")))
    };
    let key_lifetime = secs("jobs.key_lifetime_secs", j.key_lifetime_secs)?;
    // A longer lifetime than the API's would send a job after the API forgot its key.
    if key_lifetime > KEY_LIFETIME_MAX {
        return Err(invalid(
            "jobs.key_lifetime_secs",
            format!(
                "must not exceed {} (24 h, how long the API keeps an idempotency key), got {}",
                KEY_LIFETIME_MAX.as_secs(),
                j.key_lifetime_secs
            ),
        ));
    }
    let expiry_margin = secs("jobs.expiry_margin_secs", j.expiry_margin_secs)?;
    if expiry_margin >= key_lifetime {
        return Err(invalid(
            "jobs.expiry_margin_secs",
            format!("must be less than jobs.key_lifetime_secs ({})", j.key_lifetime_secs),
        ));
    }
    let retention = u32::try_from(j.retention_days)
        .ok()
        .filter(|d| *d >= 1)
        .map(|d| Duration::from_secs(u64::from(d) * 86_400))
        .ok_or_else(|| {
            invalid(
                "jobs.retention_days",
                format!("must be a positive number of days, got {}", j.retention_days),
            )
        })?;
    let lease = secs("jobs.lease_secs", j.lease_secs)?;
    if lease < LEASE_MIN {
        return Err(invalid(
            "jobs.lease_secs",
            format!(
                "must be at least {} s (a claim is renewed every third of it), got {}",
                LEASE_MIN.as_secs(),
                j.lease_secs
            ),
        ));
    }
    // A claim made just before the job's freshness ends sends up to the
    // longest send later, or a lease later if its worker died; the API's
    // clock may run ahead of Postgres's. The margin must cover all three, or
    // a send could reach the API after it forgot the key.
    let needed = lease + longest_send + CLOCK_SKEW;
    if expiry_margin < needed {
        return Err(invalid(
            "jobs.expiry_margin_secs",
            format!(
                "must be at least jobs.lease_secs + api.timeout_secs + api.max_wait_secs + {} s of clock skew \
                 ({:.0} s), got {}",
                CLOCK_SKEW.as_secs(),
                needed.as_secs_f64().ceil(),
                j.expiry_margin_secs
            ),
        ));
    }
    // The send's own bound, beyond the client's: a send that hangs must not
    // keep its claim alive forever.
    let send_timeout = longest_send + Duration::from_secs(5);
    let concurrency =
        u32::try_from(j.concurrency).ok().filter(|c| (1..=64).contains(c)).ok_or_else(|| {
            invalid("jobs.concurrency", format!("must be between 1 and 64, got {}", j.concurrency))
        })?;
    let backoff_min = secs("jobs.backoff_min_secs", j.backoff_min_secs)?;
    let backoff_max = secs("jobs.backoff_max_secs", j.backoff_max_secs)?;
    if backoff_max < backoff_min {
        return Err(invalid("jobs.backoff_max_secs", "must not be less than jobs.backoff_min_secs".into()));
    }
    let in_progress_delay = secs("jobs.in_progress_delay_secs", j.in_progress_delay_secs)?;
    let poll_interval = secs("jobs.poll_interval_secs", j.poll_interval_secs)?;
    Ok(JobsConfig {
        key_lifetime,
        expiry_margin,
        retention,
        lease,
        send_timeout,
        concurrency,
        backoff_min,
        backoff_max,
        in_progress_delay,
        poll_interval,
    })
}
