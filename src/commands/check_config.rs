//! `worker check-config`: the effective configuration, secrets redacted.
//! Loading already validated it; an invalid one never gets here (exit 2).

use crate::config::Config;

pub fn run(config: &Config) -> anyhow::Result<()> {
    crate::output::out(&config.redacted_toml());
    Ok(())
}
