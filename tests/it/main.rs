//! The integration test binary: real Postgres (one database per test, via
//! `#[sqlx::test]`), the real `worker` binary, and the built-in simulator.

mod helpers;

// The clients under test, as the other folders name them.
use api::support as api_support;

mod api;
mod cli;
mod config;
mod daemon;
mod demo;
mod docs;
mod edges;
mod jobs;
mod layout;
mod migrations;
mod mirror;
mod secrets;
mod sim;
mod walk_share;
mod webhooks;
