//! `sync.schedule`: the `cron` crate's 6- or 7-field form, seconds first. A
//! 5-field crontab line gets a message saying what to write instead, and the
//! crate's own message loses its echo of the expression and its caret line
//! (they do not line up once the message is one line of a longer error).

use std::str::FromStr;

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
