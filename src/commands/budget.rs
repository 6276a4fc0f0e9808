//! `worker budget show` and `worker budget reset [--key-fingerprint F]`: the
//! shared request budget of each key (`tokportal.api_budgets`), seen, and
//! cleared by hand when a stale block (a long `Retry-After`) outlives the
//! server's trouble sooner than its next probe would find out. Keys appear
//! only as fingerprints.

use std::io::Write;

use crate::cli::BudgetCommand;
use crate::config::{Config, ConfigError};
use crate::db::budgets;
use crate::{secret, startup};

pub async fn run(command: BudgetCommand, config: &Config) -> anyhow::Result<()> {
    let pool = startup::database(config).await?;
    match command {
        BudgetCommand::Show => show(&pool, config).await,
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
            if budgets::reset(&pool, &fingerprint).await? {
                println!("budget reset: key {fingerprint}: no block, nothing booked ahead");
                Ok(())
            } else {
                anyhow::bail!("no key {fingerprint} in tokportal.api_budgets (see `worker budget show`)")
            }
        }
    }
}

async fn show(pool: &sqlx::PgPool, config: &Config) -> anyhow::Result<()> {
    let ours: Vec<(String, &str)> = [(&config.api.key, "api key"), (&config.api.write_key, "write key")]
        .into_iter()
        .filter_map(|(k, name)| k.as_ref().map(|k| (secret::fingerprint(k), name)))
        .collect();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<18} {:>14} {:>15} {:>13} {:>12}  configured as",
        "key_fingerprint", "booked_for_s", "blocked_for_s", "next_probe_s", "updated_s_ago"
    )?;
    let probe_every = config.api.probe_interval.as_secs_f64();
    for row in budgets::rows(pool).await? {
        let blocked = row.blocked_for_secs.map_or_else(|| "-".to_string(), |s| format!("{s:.1}"));
        // A block with no more than one probe interval left is waited out, not probed.
        let probe = row
            .probe_in_secs
            .filter(|_| row.blocked_for_secs.is_some_and(|b| b > probe_every))
            .map_or_else(|| "-".to_string(), |s| format!("{s:.1}"));
        let names: Vec<&str> =
            ours.iter().filter(|(f, _)| *f == row.key_fingerprint).map(|(_, n)| *n).collect();
        writeln!(
            out,
            "{:<18} {:>14.1} {:>15} {:>13} {:>12.1}  {}",
            row.key_fingerprint,
            row.booked_for_secs,
            blocked,
            probe,
            row.updated_secs_ago,
            if names.is_empty() { "-".to_string() } else { names.join(", ") }
        )?;
    }
    Ok(())
}
