//! The mutation queue against the simulator and a real Postgres database per test.

mod claims;
mod cli;
mod config;
mod crash;
mod first_send;
mod gauges;
mod locks;
mod operator;
mod outcomes;
mod paths;
mod retry;
mod support;
mod takeover;
mod waits;
