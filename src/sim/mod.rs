//! The built-in TokPortal simulator (`worker sim`): a real HTTP server that
//! follows the reference documents (auth, per-key token bucket, pagination,
//! idempotency, credits) and misbehaves on demand, for tests, demos and benchmarks.
//!
//! Map: [`config`] what it starts with; [`server`] the accept loop; [`handle`]
//! the [`SimServer`] handle; [`gate`] auth, rate limit and faults around every API
//! request, with [`inject`] the injected failures and [`retry_after`] when a
//! client may come back; [`execute`] idempotency and the execution of mutations;
//! `handlers` the endpoints; [`extensions`] the marks requests and answers carry
//! between those; [`admin`] the `/__sim` endpoints; [`control`] what both admin
//! and the handle can do; [`dataset`] the bundles and their order indexes
//! ([`bundle`], [`children`], [`sorted`]), [`filter`] the orders and filters of
//! a list and [`listing`] its pages; [`webhooks`] the endpoints, the events every
//! change emits and their signed deliveries; [`vocab`] the statuses, types,
//! platforms and filter fields several parts share; [`lock`] how every mutex is
//! taken; [`bucket`], [`idempotency`], [`faults`], [`ledger`], [`seed`],
//! [`drift`], [`pricing`] the other parts; [`saved`] the delivered accounts
//! (`/accounts`, `/account-bans`, `/comments`, analytics), changed steadily by
//! [`account_churn`] and on demand by `admin_saved`'s endpoints.
//!
//! Files depend in one direction: what several of them share (words, marks,
//! the lock) has a file of its own below them, so none imports one that imports it.

pub mod account_churn;
pub mod admin;
mod admin_saved;
pub mod bucket;
pub mod bundle;
pub mod children;
pub mod churn;
pub mod config;
pub mod control;
pub mod dataset;
pub mod drift;
pub mod error;
pub mod execute;
pub mod extensions;
pub mod faults;
pub mod filter;
pub mod gate;
pub mod handle;
mod handle_data;
mod handle_saved;
mod handlers;
pub mod idempotency;
pub mod inject;
pub mod ledger;
pub mod listing;
pub mod lock;
pub mod pricing;
pub mod retry_after;
pub mod rng;
pub mod saved;
pub mod seed;
pub mod server;
pub mod sorted;
pub mod state;
pub mod vocab;
pub mod webhooks;

pub use config::{DEMO_CREDITS, DEMO_KEY, MAX_BUNDLES, SimConfig, SimKey, WebhookConfig};
pub use control::{BundleSnapshot, KeyStats, SimStats};
pub use faults::{DriftKind, FaultTarget, Faults, FaultsFired, RetryAfterFormat};
pub use filter::ListOrder;
pub use handle::SimServer;
pub use ledger::LedgerEntry;
pub use server::start;
pub use webhooks::{
    DeliveryState, Registered, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent,
};
