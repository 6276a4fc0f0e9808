//! The mutation queue against the simulator and a real Postgres database per test.

mod claims;
mod cli;
mod config;
mod crash;
mod outcomes;
mod support;
mod takeover;
mod waits;
