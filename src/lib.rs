//! tokportal-sync: keeps a Postgres mirror of a TokPortal account and replays
//! a queue of mutations without ever charging credits twice.
//!
//! Map of the crate:
//! - [`cli`]: clap definitions of the `worker` binary.
//! - [`config`]: layered settings, validated into a typed [`config::Config`].
//! - [`secret`]: where the API key comes from and how secrets may be shown.
//! - [`telemetry`]: tracing-subscriber setup.
//! - [`db`]: the Postgres pool and the embedded migrations.
//! - [`api`]: the TokPortal HTTP client, its request budget and the page walker.
//! - [`budget_store`]: the request budget shared through Postgres (`api_budgets`).
//! - [`api_setup`]: the API client and its budget, built from the configuration.
//! - [`get`]: the `worker get` command.
//! - [`sim`]: the built-in TokPortal simulator (`worker sim`).
//! - [`demo`]: `worker demo`, a walk of an in-process simulator.

pub mod api;
pub mod api_setup;
pub mod budget_store;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod get;
pub mod secret;
pub mod sim;
pub mod telemetry;
