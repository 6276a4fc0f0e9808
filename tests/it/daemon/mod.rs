//! The worker as it is deployed: the daemon, `worker --once`, clean stops on
//! SIGTERM, `/metrics` and `/healthz`; the real binary as a child process.

mod budget;
mod continuous;
mod listen;
mod metrics;
mod once;
mod postgres_down;
mod prune;
mod schedule;
mod serve;
mod share;
mod signals;
mod support;
mod wake;
mod webhooks;
