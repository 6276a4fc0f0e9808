//! The built-in TokPortal simulator (`worker sim`): a real HTTP server that
//! follows the reference documents (auth, per-key token bucket, pagination,
//! idempotency, credits) and misbehaves on demand, for tests, demos and benchmarks.
//!
//! Map: [`config`] what it starts with; [`server`] the accept loop and the
//! [`SimServer`] handle; [`gate`] auth, rate limit and faults around every API
//! request; [`execute`] idempotency and the execution of mutations; `handlers`
//! the endpoints; [`admin`] the `/__sim` endpoints; [`control`] what both admin
//! and the handle can do; [`bucket`], [`idempotency`], [`faults`], [`ledger`],
//! [`dataset`], [`seed`], [`drift`], [`pricing`] the parts.

pub mod admin;
pub mod bucket;
pub mod config;
pub mod control;
pub mod dataset;
pub mod drift;
pub mod error;
pub mod execute;
pub mod faults;
pub mod gate;
mod handlers;
pub mod idempotency;
pub mod ledger;
pub mod pricing;
pub mod rng;
pub mod seed;
pub mod server;
pub mod state;

pub use config::{DEMO_CREDITS, DEMO_KEY, SimConfig, SimKey};
pub use control::{KeyStats, SimStats};
pub use faults::{DriftKind, FaultTarget, Faults, FaultsFired};
pub use ledger::LedgerEntry;
pub use server::{SimServer, start};
