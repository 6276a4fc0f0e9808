//! Signed webhooks: the receiver refuses what it must and stores the rest
//! once; the refresh makes the mirror right from the stored events.

mod claims;
mod config;
mod delivered;
mod failures;
mod in_flight;
mod receive;
mod refresh;
mod register;
mod retention;
pub mod support;
mod takeover;
mod unmirrored;
