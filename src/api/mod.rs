//! Everything HTTP about TokPortal, and nothing of Postgres: the [`Client`]
//! (auth, errors, retries), the [`Budget`] that decides when a request may be
//! sent, the page walker [`Walk`], and lenient [`model`] types.
//!
//! The budget's state lives in a [`BudgetStore`]: [`MemoryStore`] here, the
//! Postgres store (shared by every process of a key) in `db/budgets.rs`.

pub mod ahead;
pub mod budget;
pub mod client;
pub mod counters;
pub mod cursor;
pub mod error;
pub mod gcra;
pub mod headers;
pub mod in_flight;
pub mod model;
pub mod mutation;
pub mod pages;
pub mod segment;
pub mod store;
pub mod turns;

pub use budget::{Budget, BudgetOptions, Permit};
pub use client::{ApiResponse, Client, ClientOptions, SendSignal};
pub use counters::CounterSnapshot;
pub use cursor::{Page, WalkStats};
pub use error::ApiError;
pub use mutation::{IdempotencyKey, MutationMethod};
pub use pages::Walk;
pub use segment::is_safe_id;
pub use store::{BudgetStore, MemoryStore};
pub use turns::Priority;
