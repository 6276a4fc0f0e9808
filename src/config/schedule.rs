//! `sync.schedule` validated: a cron expression, or `"continuous"` with the
//! reserves of the key's bucket continuous work leaves to jobs
//! (`sync.jobs_reserve`) and webhook refreshes (`sync.refresh_reserve`).

use std::fmt;
use std::str::FromStr;

use super::{ConfigError, SyncSection};

/// The value of `sync.schedule` that selects continuous mode.
pub const CONTINUOUS: &str = "continuous";

/// When the daemon walks the streams.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// A tick at each time of the cron expression.
    Cron(Box<cron::Schedule>),
    /// Without pause, on the budget jobs and webhook refreshes leave.
    Continuous,
}

impl Schedule {
    pub fn is_continuous(&self) -> bool {
        matches!(self, Schedule::Continuous)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Cron(cron) => write!(f, "{cron}"),
            Schedule::Continuous => f.write_str(CONTINUOUS),
        }
    }
}

/// `sync.schedule` and the two reserves. `usable_tokens` is the bucket this
/// process plans for (`api.burst` less `api.reserved_share`, less the one
/// token kept as a margin): in continuous mode the reserves must leave
/// continuous work at least one token of it.
pub fn validate(
    y: &SyncSection,
    usable_tokens: u32,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<(Schedule, u32, u32), ConfigError> {
    let schedule = if y.schedule.trim().eq_ignore_ascii_case(CONTINUOUS) {
        Schedule::Continuous
    } else {
        let cron = cron::Schedule::from_str(&y.schedule).map_err(|e| {
            invalid(
                "sync.schedule",
                format!(
                    "not a cron expression (6 or 7 fields, seconds first) nor \"{CONTINUOUS}\": {:?}: {e}",
                    y.schedule
                ),
            )
        })?;
        Schedule::Cron(Box::new(cron))
    };
    let reserve = |key: &str, value: i64| {
        u32::try_from(value)
            .map_err(|_| invalid(key, format!("must be a whole number of tokens, 0 or more, got {value}")))
    };
    let jobs = reserve("sync.jobs_reserve", y.jobs_reserve)?;
    let refreshes = reserve("sync.refresh_reserve", y.refresh_reserve)?;
    if schedule.is_continuous() && u64::from(jobs) + u64::from(refreshes) >= u64::from(usable_tokens) {
        return Err(invalid(
            "sync.jobs_reserve",
            format!(
                "with sync.refresh_reserve ({refreshes}) must leave continuous work at least one token of \
                 the {usable_tokens} this process plans for (api.burst less api.reserved_share, less one), \
                 got {jobs}"
            ),
        ));
    }
    Ok((schedule, jobs, refreshes))
}
