//! The integration test binary: real Postgres (one database per test, via
//! `#[sqlx::test]`), the real `worker` binary, and the built-in simulator.

mod helpers;

mod api_budget_store;
mod api_errors;
mod api_get;
mod api_pacing;
mod api_support;
mod api_walk;
mod cli;
mod config;
mod daemon;
mod demo;
mod edges;
mod jobs;
mod layout;
mod migrations;
mod mirror;
mod secrets;
mod sim;
mod webhooks;
