//! `[jobs]`, validated: the mutation queue's settings in the types the queue
//! uses, and the checks between them (a lease longer than any send).

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
    pub concurrency: u32,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    pub in_progress_delay: Duration,
    pub poll_interval: Duration,
}

/// `[jobs]` into [`JobsConfig`]. `longest_send` (`api.timeout_secs` plus
/// `api.max_wait_secs`) is the bound the lease must exceed.
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
    // A lease that can end while its send is still running would let a
    // second worker send the same job at the same time.
    if lease <= longest_send {
        return Err(invalid(
            "jobs.lease_secs",
            format!(
                "must exceed api.timeout_secs + api.max_wait_secs ({:.1} s), the longest a send can take, got {}",
                longest_send.as_secs_f64(),
                j.lease_secs
            ),
        ));
    }
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
        concurrency,
        backoff_min,
        backoff_max,
        in_progress_delay,
        poll_interval,
    })
}
