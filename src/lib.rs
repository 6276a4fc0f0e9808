//! tokportal-sync: keeps a Postgres mirror of a TokPortal account and replays
//! a queue of mutations without ever charging credits twice.
//!
//! Map of the crate (dependencies run down this list, never up):
//! - [`cli`]: clap definitions of the `worker` binary.
//! - [`commands`]: one module per subcommand, wiring only.
//! - [`startup`]: configuration to running parts: the pool, the API clients.
//! - [`config`]: layered settings, validated into a typed [`config::Config`].
//! - [`telemetry`]: tracing-subscriber setup.
//! - [`mirror`]: the streams, their walks into Postgres, deletes, child planning.
//! - [`jobs`]: the mutation queue: claims, sends with persisted idempotency keys, outcomes.
//! - [`db`]: the Postgres pool, the embedded migrations, the shared request budget's SQL.
//! - [`api`]: the TokPortal HTTP client, its request budget and the page walker (no SQL).
//! - [`sim`]: the built-in TokPortal simulator (`worker sim`).
//! - [`secret`]: fingerprints and redaction (imports nothing from the crate).

pub mod api;
pub mod cli;
pub mod commands;
pub mod config;
pub mod db;
pub mod jobs;
pub mod mirror;
pub mod secret;
pub mod sim;
pub mod startup;
pub mod telemetry;
