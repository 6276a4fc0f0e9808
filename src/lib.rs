//! tokportal-sync: keeps a Postgres mirror of a TokPortal account and replays
//! a queue of mutations without ever charging credits twice.
//!
//! Map of the crate (dependencies run down this list, never up):
//! - [`cli`]: clap definitions of the `worker` binary.
//! - [`commands`]: one module per subcommand, wiring only.
//! - [`startup`]: configuration to running parts: the pool, the API clients.
//! - [`config`]: layered settings, validated into a typed [`config::Config`].
//! - [`telemetry`]: tracing-subscriber setup; [`progress`]: the bars of a sync on a terminal.
//! - [`shutdown`]: SIGTERM/SIGINT to a cancellation token, bounded draining of tasks.
//! - [`schedule`]: one sync tick over every stream, and the cron loop around it.
//! - [`server`]: `/metrics` and `/healthz` of the daemon; [`meter`]: the Prometheus series.
//! - [`mirror`]: the streams, their walks into Postgres, deletes, child planning.
//! - [`webhooks`]: signed TokPortal deliveries stored once, then targeted refreshes of the mirror.
//! - [`jobs`]: the mutation queue: claims, sends with persisted idempotency keys, outcomes.
//! - [`db`]: the Postgres pool, the embedded migrations, the shared request budget's SQL.
//! - [`api`]: the TokPortal HTTP client, its request budget and the page walker (no SQL).
//! - [`sim`]: the built-in TokPortal simulator (`worker sim`); [`demo`]: `worker demo` end to end against it.
//! - [`secret`]: fingerprints and redaction (imports nothing from the crate).

pub mod api;
pub mod cli;
pub mod commands;
pub mod config;
pub mod db;
pub mod demo;
pub mod jobs;
pub mod meter;
pub mod mirror;
pub mod progress;
pub mod schedule;
pub mod secret;
pub mod server;
pub mod shutdown;
pub mod sim;
pub mod startup;
pub mod telemetry;
pub mod webhooks;
