//! The built-in simulator, over real HTTP on ephemeral loopback ports. Every
//! test starts its own server and shuts it down.

mod account_drift;
mod accounts;
mod admin;
mod auth;
mod bans;
mod bucket;
mod churn;
mod command;
mod comments;
mod faults;
mod idempotency;
mod order;
mod pages;
mod rate_limit;
mod reads;
mod retry_after;
mod snapshot;
mod support;
mod webhooks;
mod writes;
