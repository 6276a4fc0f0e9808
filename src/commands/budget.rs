//! `worker budget show [--json]` and `worker budget reset [--key-fingerprint F]`:
//! the shared request budget of each key (`tokportal.api_budgets`), seen, and
//! cleared by hand when a stale block (a long `Retry-After`) outlives the
//! server's trouble sooner than its next probe would find out. Keys appear
//! only as fingerprints.

use std::io::Write;

use crate::cli::BudgetCommand;
use crate::config::{Config, ConfigError};
use crate::db::budgets::{self, Cleared};
use crate::{secret, startup};

pub async fn run(command: BudgetCommand, config: &Config) -> anyhow::Result<()> {
    let pool = startup::database(config).await?;
    match command {
        BudgetCommand::Show { json } => show(&pool, config, json).await,
        BudgetCommand::Reset { key_fingerprint } => {
            let fingerprint = match key_fingerprint {
                Some(f) => f,
                None => match config.api.key.as_ref() {
                    Some(key) => secret::fingerprint(key),
                    None => {
                        return Err(ConfigError::Missing {
                            key: "TOKPORTAL_API_KEY".into(),
                            hint: "pass --key-fingerprint F (see `worker budget show`) or set the key".into(),
                        }
                        .into());
                    }
                },
            };
            match budgets::reset(&pool, &fingerprint).await? {
                Some(cleared) => {
                    crate::outln!("budget reset: key {fingerprint}: {}", cleared_text(&cleared));
                    Ok(())
                }
                None => {
                    anyhow::bail!("no key {fingerprint} in tokportal.api_budgets (see `worker budget show`)")
                }
            }
        }
    }
}

/// What a reset cleared, in words: the block and the booking it lifted, or
/// that there was nothing to lift.
fn cleared_text(c: &Cleared) -> String {
    let mut parts = Vec::new();
    if let Some(blocked) = c.blocked_for_secs {
        parts.push(format!("cleared a block with {blocked:.1} s left"));
    }
    if c.booked_for_secs > 0.0 {
        parts.push(format!("cleared {:.1} s of requests booked ahead", c.booked_for_secs));
    }
    if parts.is_empty() {
        "nothing to clear (no block, nothing booked ahead); the bucket is full from now".into()
    } else {
        format!("{}; the bucket is full from now", parts.join(" and "))
    }
}

async fn show(pool: &sqlx::PgPool, config: &Config, json: bool) -> anyhow::Result<()> {
    let ours: Vec<(String, &str)> = [(&config.api.key, "api key"), (&config.api.write_key, "write key")]
        .into_iter()
        .filter_map(|(k, name)| k.as_ref().map(|k| (secret::fingerprint(k), name)))
        .collect();
    let mut out = crate::output::Stdout;
    let probe_every = config.api.probe_interval.as_secs_f64();
    let rows = budgets::rows(pool).await?;
    if !json {
        writeln!(
            out,
            "{:<18} {:>14} {:>15} {:>13} {:>13}  configured as",
            "key_fingerprint", "booked_for_s", "blocked_for_s", "next_probe_s", "updated_s_ago"
        )?;
    }
    for mut row in rows {
        // A block with no more than one probe interval left is waited out, not probed.
        if !row.blocked_for_secs.is_some_and(|b| b > probe_every) {
            row.probe_in_secs = None;
        }
        let names: Vec<&str> =
            ours.iter().filter(|(f, _)| *f == row.key_fingerprint).map(|(_, n)| *n).collect();
        if json {
            let mut value = serde_json::to_value(&row)?;
            value["configured_as"] = serde_json::json!(names);
            writeln!(out, "{value}")?;
            continue;
        }
        let secs = |s: Option<f64>| s.map_or_else(|| "-".to_string(), |s| format!("{s:.1}"));
        writeln!(
            out,
            "{:<18} {:>14.1} {:>15} {:>13} {:>13.1}  {}",
            row.key_fingerprint,
            row.booked_for_secs,
            secs(row.blocked_for_secs),
            secs(row.probe_in_secs),
            row.updated_secs_ago,
            if names.is_empty() { "-".to_string() } else { names.join(", ") }
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reset_says_what_it_cleared() {
        let both = cleared_text(&Cleared { booked_for_secs: 4.25, blocked_for_secs: Some(512.0) });
        assert!(both.starts_with("cleared a block with 512.0 s left and cleared 4.2 s"), "{both}");
        let none = cleared_text(&Cleared { booked_for_secs: 0.0, blocked_for_secs: None });
        assert!(none.starts_with("nothing to clear"), "{none}");
    }
}
