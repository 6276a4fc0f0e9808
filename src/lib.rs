//! tokportal-sync: keeps a Postgres mirror of a TokPortal account and replays
//! a queue of mutations without ever charging credits twice.
//!
//! Map of the crate (dependencies run down this list, never up; no two
//! modules import each other):
//! - [`cli`]: clap definitions of the `worker` binary.
//! - [`commands`]: one module per subcommand, wiring only: none imports another.
//! - [`demo`]: `worker demo` end to end against the simulator (imports no command).
//! - [`startup`]: configuration to running parts: one [`startup::App`] (the pool, the
//!   read and write clients) hands out the mirror, the replayer, the refresher, the scheduler.
//! - [`server`]: `/metrics` and `/healthz` of the daemon; [`meter`]: the Prometheus series, all
//!   there from the start, which read the API clients' counters and Postgres at each scrape.
//! - [`schedule`]: the [`schedule::Scheduler`] (one tick over every stream), the cron loop
//!   around it, and the cycle of `worker --once`.
//! - [`webhooks`]: signed TokPortal deliveries stored once, then targeted refreshes, applied
//!   through the mirror's own refresh call.
//! - [`progress`]: the bars of a sync on a terminal (the mirror is given them).
//! - [`telemetry`]: tracing-subscriber setup.
//! - [`output`]: stdout and stderr that a reader gone away (`| head -1`) never turns
//!   into a panic; commands print through its `outln!` and `errln!`.
//! - [`mirror`]: the streams, their walks into Postgres, deletes, child planning; all SQL
//!   of the mirrored tables.
//! - [`jobs`]: the mutation queue: claims, sends with persisted idempotency keys, outcomes,
//!   the daemon's replay and prune loops, the retry-safety rule; all SQL of the queue.
//! - [`db`]: the Postgres pool, the embedded migrations, the shared request budget's SQL, and
//!   the owner session a process's claims (jobs, webhook batches) are tied to.
//! - [`config`]: layered settings, validated into a typed [`config::Config`].
//! - [`api`]: the TokPortal HTTP client, its request budget and the page walker (no SQL; it
//!   calls nothing above it).
//! - [`shutdown`]: SIGTERM/SIGINT to a cancellation token, bounded draining of tasks.
//! - [`sim`]: the built-in TokPortal simulator (`worker sim`; imports only [`secret`]).
//! - [`secret`]: fingerprints and redaction (imports nothing from the crate).
//!
//! Where new things go:
//! - a stream: one file in `mirror/streams/`, one line in `mirror::streams::ALL`, and the
//!   migration creating its table; the run order, the names `sync.streams` and `--stream`
//!   accept, and the docs' list are derived from that line.
//! - a mutation type: nothing when it takes an idempotency key (any method and path inside
//!   `api.base_url` is queued as is); one line in `jobs/validate.rs` when it refuses keys
//!   (`SENSITIVE`), needs a body (`BODY_REQUIRED`) or is a priced creation (`is_creation`),
//!   and an error code it can answer that means something new for the job, in
//!   `jobs/classify.rs`.
//! - a webhook event type: one line in `webhooks::work::TABLE` (what its refresh fetches).
//! - a command: its arguments in `cli.rs`, one file in `commands/`, one line in
//!   `commands::run`; it takes what it needs from [`startup::App`].

pub mod api;
pub mod cli;
pub mod commands;
pub mod config;
pub mod db;
pub mod demo;
pub mod jobs;
pub mod meter;
pub mod mirror;
pub mod output;
pub mod progress;
pub mod schedule;
pub mod secret;
pub mod server;
pub mod shutdown;
pub mod sim;
pub mod startup;
pub mod telemetry;
pub mod webhooks;
