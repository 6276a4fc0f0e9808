//! Configuration: the settings tree as `config.toml` writes it (`settings.rs`,
//! with `[server]` in `server.rs` and `[webhooks]` in `webhooks.rs`), its
//! layered loading (`load.rs`), the secrets taken from the environment
//! (`env_secrets.rs`), and `validate()` (`validate.rs`, `[jobs]` in `jobs.rs`,
//! `sync.schedule` and continuous mode's reserves in `schedule.rs`,
//! durations in `duration.rs`) into the typed runtime [`Config`] (`runtime.rs`).
//! Every error is a [`ConfigError`] naming the key and where its value came from.

mod duration;
mod env_secrets;
mod jobs;
mod load;
mod runtime;
mod schedule;
mod server;
mod settings;
mod validate;
mod webhooks;

use std::path::PathBuf;

pub use duration::parse_duration;
pub use jobs::JobsConfig;
pub use load::{DEFAULT_CONFIG_FILE, Layers, Origin, known_keys};
pub use runtime::{ApiConfig, Config, DatabaseConfig, LogConfig, LogFormat, SyncConfig};
pub use schedule::{CONTINUOUS, DEFAULT_WALK_SHARE, Schedule, parse_schedule};
pub use server::{ServerConfig, ServerSection};
pub use settings::{ApiSection, DatabaseSection, JobsSection, LogSection, Settings, SyncSection};
pub use validate::KNOWN_STREAMS;
pub use webhooks::{WebhooksConfig, WebhooksSection, secrets_from_env as webhook_secrets_from_env};

/// Everything that can be wrong with the configuration. The process exits
/// with status 2 on any of these.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid value for `{key}` (from {origin}): {message}")]
    Invalid { key: String, origin: Origin, message: String },
    #[error("unknown configuration key `{key}` (from {origin})")]
    UnknownKey { key: String, origin: Origin },
    #[error("config file {} (named by {named_by}) does not exist", path.display())]
    MissingFile { path: PathBuf, named_by: &'static str },
    #[error("config file {} (named by {named_by}) is a directory: name the TOML file in it, such as {}/config.toml", path.display(), path.display())]
    NotAFile { path: PathBuf, named_by: &'static str },
    /// A setting the command needs and nobody gave (`DATABASE_URL` for `worker migrate`).
    #[error("{key} is not set: {hint}")]
    Missing { key: String, hint: String },
    #[error("{message}")]
    Load { message: String },
}
