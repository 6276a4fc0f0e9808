//! The API layer against the simulator and scripted servers: GETs and their
//! retries, error envelopes, the budget's pace and 429s, the Postgres budget
//! store, and the page walk.

mod budget_store;
mod errors;
mod get;
mod late_page;
mod pacing;
mod response_cap;
pub mod support;
mod walk;
