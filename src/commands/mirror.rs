//! `worker mirror rebind --yes`: empties the mirror and binds it to the
//! account of `TOKPORTAL_API_KEY`, the way out when a database that mirrored
//! one account is given the key of another (every run that writes refuses it).

use crate::cli::{MirrorCommand, usage};
use crate::config::Config;
use crate::mirror::account;
use crate::startup::App;
use crate::telemetry;

pub async fn run(command: MirrorCommand, config: &Config) -> anyhow::Result<()> {
    match command {
        MirrorCommand::Rebind { yes } => {
            if !yes {
                return Err(usage(
                    "mirror rebind",
                    "this deletes every mirrored row and the runs' history; run again with --yes",
                ));
            }
            let app = App::connect(config).await?;
            let (held, now) = account::rebind(app.pool(), app.read()?).await?;
            let before = held.map(|a| format!(" (was {a})")).unwrap_or_default();
            telemetry::summary(&format!(
                "the mirror is empty and bound to account {now}{before}; the next sync walks it"
            ));
            Ok(())
        }
    }
}
