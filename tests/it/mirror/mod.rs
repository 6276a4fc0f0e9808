//! The mirror against the simulator and a real Postgres database per test.

mod account;
mod bans;
mod children;
mod cli;
mod commits;
mod confirmed;
mod deletes;
mod deliveries;
mod drift;
mod exact;
mod first_page;
mod in_flight;
mod kill;
mod lists;
mod plan;
mod poison;
mod probes;
mod progress;
mod round;
mod runs;
mod secrets;
mod seen;
mod snapshots;
mod staleness;
pub mod support;
mod views;
