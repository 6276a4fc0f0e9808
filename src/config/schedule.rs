//! `sync.schedule` validated: a cron expression, or `"continuous"` with the
//! reserves of the key's bucket continuous work leaves to jobs
//! (`sync.jobs_reserve`) and webhook refreshes (`sync.refresh_reserve`),
//! and the share of the budget its list walks take (`sync.walk_share`).
//! A cron expression takes the `cron` crate's 6- or 7-field form, seconds
//! first; a 5-field crontab line gets a message saying what to write instead,
//! and the crate's own message loses its echo of the expression and its caret
//! line (they do not line up once the message is one line of a longer error).

use std::fmt;
use std::str::FromStr;

use super::{ConfigError, SyncSection};

/// The value of `sync.schedule` that selects continuous mode.
pub const CONTINUOUS: &str = "continuous";

/// `sync.walk_share` unless set: the walks and the children each get half of
/// what jobs and refreshes leave while both wait (docs/operations.md,
/// "Continuous mode", says why and when to raise it).
pub const DEFAULT_WALK_SHARE: f64 = 0.5;

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
        let cron = parse_schedule(&y.schedule)
            .map_err(|message| invalid("sync.schedule", format!("{message}; or \"{CONTINUOUS}\"")))?;
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

/// `sync.walk_share`: a share of the budget, more than 0 and at most 1 (checked
/// with a cron schedule too, where it is not used, so a typo is not kept
/// until the day the schedule changes).
pub fn walk_share(
    y: &SyncSection,
    invalid: &dyn Fn(&str, String) -> ConfigError,
) -> Result<f64, ConfigError> {
    let share = y.walk_share;
    if share.is_finite() && share > 0.0 && share <= 1.0 {
        return Ok(share);
    }
    Err(invalid(
        "sync.walk_share",
        format!(
            "must be a share of the budget more than 0 and at most 1 (0.5: the list walks take half of \
             what jobs and refreshes leave while children wait; 1: the walks back to back), got {share}"
        ),
    ))
}

/// The schedule, or a message saying what is wrong with `text`.
pub fn parse_schedule(text: &str) -> Result<cron::Schedule, String> {
    let fields = text.split_whitespace().count();
    let is_alias = text.trim_start().starts_with('@');
    if fields == 5 {
        return Err(format!(
            "{text:?} has 5 fields, as a crontab line does; this schedule takes 6 or 7, seconds first \
             (sec min hour day-of-month month day-of-week [year]): to run at second 0 of those minutes, \
             write \"0 {}\"",
            text.trim()
        ));
    }
    if !is_alias && !(6..=7).contains(&fields) {
        return Err(format!(
            "{text:?} has {fields} fields; this schedule takes 6 or 7, seconds first \
             (sec min hour day-of-month month day-of-week [year]), such as \"0 */15 * * * *\""
        ));
    }
    cron::Schedule::from_str(text).map_err(|e| {
        let said: Vec<String> = e
            .to_string()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && *l != text.trim() && !l.chars().all(|c| c == '^'))
            .map(str::to_string)
            .collect();
        let why = if said.is_empty() { String::new() } else { format!(": {}", said.join(" ")) };
        format!("{text:?} is not a cron expression (6 or 7 fields, seconds first){why}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crontab_line_of_5_fields_is_told_what_to_write() {
        let e = parse_schedule("*/5 * * * *").unwrap_err();
        assert!(e.contains("has 5 fields") && e.contains("write \"0 */5 * * * *\""), "{e}");
        assert!(!e.contains('\n') && !e.contains('^'), "{e}");
    }

    #[test]
    fn a_bad_field_is_named_on_one_line_without_a_caret() {
        let e = parse_schedule("0 61 * * * *").unwrap_err();
        assert!(e.contains("Minutes must be less than"), "{e}");
        assert!(!e.contains('\n') && !e.contains('^'), "{e}");
        let e = parse_schedule("0 * * * * * * *").unwrap_err();
        assert!(e.contains("has 8 fields"), "{e}");
        assert!(parse_schedule("0 */15 * * * *").is_ok() && parse_schedule("@hourly").is_ok());
    }
}
