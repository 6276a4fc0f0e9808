//! Command-line definitions (clap). Only commands that work are listed.

use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

mod queue;
mod usage;
mod values;

pub use queue::{EnqueueArgs, JobsCommand};
pub use usage::{UsageError, usage};
pub use values::{fingerprint, positive, webhook_id, webhook_url};

#[derive(Debug, Parser)]
#[command(
    name = "worker",
    version,
    about = "Mirror a TokPortal account into Postgres and replay mutations safely",
    long_about = "Mirror a TokPortal account into Postgres and replay mutations safely.\n\n\
        Without a subcommand, runs as a daemon: the sync on sync.schedule, mutation jobs replayed as \
        they are enqueued, /metrics and /healthz on server.listen, a clean stop on SIGTERM or SIGINT. \
        With --once, runs one cycle (migrate, replay every due job, sync every stream) and exits.",
    after_help = EXIT_STATUS
)]
pub struct Cli {
    /// Config file (default: ./config.toml if present). Also TOKPORTAL_CONFIG.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Run one cycle and exit: migrate, replay every due job, sync every configured stream.
    #[arg(long)]
    pub once: bool,

    /// With --once: stop at the next page boundary after this long (such as 90s, 10m, 1h),
    /// commit, and exit 0; the next run resumes. Keep it below a CronJob's activeDeadlineSeconds.
    #[arg(long, requires = "once", value_name = "DURATION", value_parser = duration)]
    pub max_duration: Option<std::time::Duration>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The `worker` command as parsed: every flag and argument that takes a value
/// also takes a negative number, so `--limit -1` reaches the flag's own check
/// (a clear "must be at least 1") instead of reading as an unknown flag.
pub fn command() -> clap::Command {
    fn negatives(cmd: clap::Command) -> clap::Command {
        cmd.mut_args(|a| if a.get_action().takes_values() { a.allow_negative_numbers(true) } else { a })
            .mut_subcommands(negatives)
    }
    negatives(Cli::command())
}

/// Parses the process's arguments with [`command`]; exits 2 with clap's message on a usage error.
pub fn parse() -> Cli {
    Cli::from_arg_matches_mut(&mut command().get_matches()).unwrap_or_else(|e| e.exit())
}

/// The exit statuses, shown by `worker --help`.
pub const EXIT_STATUS: &str = "Exit status:\n  \
    0  done (for --once: the cycle completed, or --max-duration or a signal stopped it at a page \
       boundary; jobs that failed for business reasons are reported, not counted)\n  \
    1  the work could not be completed: a stream was not walked completely, or the database failed\n  \
    2  configuration or usage error\n  \
    3  the API refused the key (401, or 403 on the key's scope)";

fn duration(s: &str) -> Result<std::time::Duration, String> {
    crate::config::parse_duration(s)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("expected a positive duration such as 90s, 10m or 1h, got {s:?}"))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply the database migrations (safe to repeat, safe to run concurrently).
    Migrate,
    /// Print the effective configuration with secrets redacted; exit 2 if it is invalid.
    CheckConfig,
    /// Send one GET through the worker's client and request budget and print the JSON body;
    /// with --all-pages, walk the list and print every item as one JSON object per line.
    Get(GetArgs),
    /// Walk the configured streams once into Postgres (no replay); exit 1 if one was not
    /// walked completely.
    Sync(SyncArgs),
    /// Send every due mutation job once (claims, leases, same idempotency key on every
    /// attempt) and exit; exit 3 if the API refused the key.
    Replay,
    /// Validate a mutation and add it to the queue; prints the job as JSON.
    Enqueue(EnqueueArgs),
    /// Inspect and manage the mutation queue.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Register a webhook endpoint with TokPortal (prints its signing secret once), list or delete them.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// Show or reset the shared request budget of each API key (tokportal.api_budgets).
    #[command(subcommand)]
    Budget(BudgetCommand),
    /// Show the recent walks of each stream (tokportal.sync_runs), newest first.
    Runs(RunsArgs),
    /// List what the walks set aside instead of stopping (tokportal.sync_problems).
    Problems(RunsArgs),
    /// The account the database mirrors.
    #[command(subcommand)]
    Mirror(MirrorCommand),
    /// Run the built-in TokPortal simulator; the first line on stdout is its API base URL.
    Sim(SimArgs),
    /// Everything end to end against an in-process simulator: migrate, mirror, enqueue
    /// mutations and replay them through failures, then check each was charged once.
    /// Needs no key; uses DATABASE_URL, a local server, or a throwaway cluster.
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    // Help and values derive from the one list of streams (`mirror::streams::ALL`).
    #[arg(
        long,
        help = format!("Walk only this stream ({})", crate::mirror::streams::names().join(", ")),
        value_parser = clap::builder::PossibleValuesParser::new(crate::mirror::streams::names())
    )]
    pub stream: Option<String>,
    /// Send nothing: print what each stream's run would cost now (its kind, its requests,
    /// their time at the key's rate), read from the mirror
    #[arg(long)]
    pub plan: bool,
    /// With --plan: print the plan as JSON
    #[arg(long, requires = "plan")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Only those of this stream (values from the one list of streams).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(crate::mirror::streams::names()))]
    pub stream: Option<String>,
    /// How many to show, newest first (at least 1).
    #[arg(long, default_value_t = 20, value_parser = positive::<u32>)]
    pub limit: u32,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum MirrorCommand {
    /// Empty the mirrored tables and runs, then bind the mirror to the key's account (GET /me).
    Rebind {
        /// Confirm: every mirrored row is deleted.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Only walk /bundles through the client and budget and time it against the
    /// token bucket (no database, no mutations): the earlier demo.
    #[arg(long)]
    pub walk_only: bool,
    /// Bundles in the simulated account (default: 2,000; 30,000 with --walk-only).
    #[arg(long)]
    pub bundles: Option<usize>,
    /// Refill of the key's bucket, requests per second (the real budget is 2; 20 keeps the demo short).
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Capacity of the key's bucket.
    #[arg(long, default_value_t = 120)]
    pub burst: u32,
    /// Change the account every Nth list request (insert, delete or change a bundle) while walking.
    #[arg(long, default_value_t = 0)]
    pub drift_every: u32,
    /// Mutations to enqueue and replay while the simulator fails and drops answers.
    #[arg(long, default_value_t = 6)]
    pub mutations: u32,
    /// Start a throwaway PostgreSQL cluster even when a server is reachable.
    #[arg(long)]
    pub throwaway: bool,
    /// Directory holding the PostgreSQL server programs (initdb, pg_ctl) for the throwaway
    /// cluster (default: the newest /usr/lib/postgresql/*/bin, then PATH).
    #[arg(long, value_name = "DIR")]
    pub pg_bin: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// Path relative to api.base_url, such as /bundles or /bundles/ID (a query may follow).
    pub path: String,
    /// Walk every page of a list endpoint and print its items, one JSON object per line.
    #[arg(long)]
    pub all_pages: bool,
    /// A query parameter to add, such as --query status=published (repeatable).
    #[arg(long = "query", value_name = "K=V", value_parser = key_value)]
    pub query: Vec<(String, String)>,
}

fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

/// `worker sim`: see docs/simulator.md.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Address to listen on (loopback by default: the admin endpoints have no auth).
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// Port; 0 picks a free one.
    #[arg(long, default_value_t = 8787)]
    pub port: u16,
    /// Seeded bundles in the dataset.
    #[arg(long, default_value_t = 137)]
    pub bundles: usize,
    /// Delivered accounts in the pool (`GET /accounts`); default: one for every five bundles, at least one.
    #[arg(long)]
    pub accounts: Option<usize>,
    /// Seed of the dataset and of random faults.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Bucket refill in requests per second.
    #[arg(long, default_value_t = 2.0)]
    pub rate: f64,
    /// Bucket capacity.
    #[arg(long, default_value_t = 120)]
    pub burst: u32,
    /// Turn rate limiting off (headers still sent, never a 429).
    #[arg(long)]
    pub no_rate_limit: bool,
    /// Accepted keys, comma-separated `KEY[:CREDITS[:read|full[:ACCOUNT]]]` (default: the demo key).
    #[arg(long, value_delimiter = ',', env = "TOKPORTAL_SIM_KEYS", hide_env_values = true)]
    pub keys: Vec<String>,
    /// Lifetime of stored idempotent responses, in seconds.
    #[arg(long, default_value_t = 86_400)]
    pub idempotency_ttl_secs: u64,
    /// Initial fault settings as JSON, e.g. '{"fail_rate":0.05,"drift_every":10}'.
    #[arg(long, value_name = "JSON")]
    pub faults: Option<String>,
    /// Time every answer takes, in milliseconds (a distant server; overrides `latency_ms` of --faults).
    #[arg(long, value_name = "MS")]
    pub latency_ms: Option<u64>,
    /// Up to this many milliseconds more per answer, drawn at random (seeded).
    #[arg(long, value_name = "MS")]
    pub latency_jitter_ms: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum BudgetCommand {
    /// Each key's row: fingerprint, booked until and blocked until (seconds from now).
    Show {
        /// One JSON object per key, one per line, instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Clear the block (a server's Retry-After) and the booking of one key: by default the
    /// configured TOKPORTAL_API_KEY. Use it once the server has recovered.
    Reset {
        /// The key's fingerprint, as `worker budget show` and `worker check-config` print it.
        #[arg(long, value_name = "F", value_parser = fingerprint)]
        key_fingerprint: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// POST /webhooks, sent once and never retried (the API refuses idempotency keys there);
    /// prints the signing secret once, with how to give it to the daemon.
    Register {
        /// The public URL of this daemon's POST /webhooks/tokportal (an absolute http or https URL).
        #[arg(long, value_parser = webhook_url)]
        url: String,
        /// An event type to subscribe to (repeat; none: what the API defaults to).
        #[arg(long)]
        event: Vec<String>,
    },
    /// GET /webhooks: the registered endpoints.
    List {
        /// One JSON object per endpoint, one per line, as the API returned it.
        #[arg(long)]
        json: bool,
    },
    /// DELETE /webhooks/{id}: queued as a mutation job under its own idempotency key, then the
    /// due jobs are sent as `worker replay` sends them; exit 1 if the API refused it.
    Delete {
        /// The endpoint's id, as `worker webhooks list` prints it.
        #[arg(value_parser = webhook_id)]
        id: String,
        /// The job as one JSON object instead of a sentence.
        #[arg(long)]
        json: bool,
    },
}
