//! The arguments of the queue's commands: `worker enqueue` and `worker jobs`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::values::positive;

/// `worker enqueue`: see docs/jobs.md, "worker enqueue".
#[derive(Debug, Args)]
pub struct EnqueueArgs {
    /// POST, PUT, PATCH or DELETE.
    pub method: String,
    /// Path relative to api.base_url, such as /bundles or /bundles/ID/publish.
    pub path: String,
    /// The JSON body, sent byte for byte on every attempt.
    #[arg(long, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Read the JSON body from this file (byte for byte).
    #[arg(long, value_name = "FILE")]
    pub body_file: Option<PathBuf>,
    /// The idempotency key (1 to 255 visible ASCII characters; default: a fresh UUID).
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Jobs with the same ordering key run one at a time, in enqueue order
    /// (default: the bundle id in the path).
    #[arg(long)]
    pub ordering_key: Option<String>,
    /// First ask the API for the price (X-TokPortal-Dry-Run: true; creations only) and print it.
    #[arg(long)]
    pub price: bool,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// The most recent jobs, newest first.
    List {
        /// Only jobs with this status.
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(crate::jobs::validate::STATUSES))]
        status: Option<String>,
        /// How many to show, newest first (at least 1).
        #[arg(long, default_value_t = 50, value_parser = positive::<i64>)]
        limit: i64,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One job with every attempt.
    Show {
        /// The job's id, as `worker jobs list` prints it.
        #[arg(value_parser = positive::<i64>)]
        id: i64,
        /// The job and its attempts as one JSON object instead of a report.
        #[arg(long)]
        json: bool,
    },
    /// Queue a failed or expired job again (the same idempotency key unless --new-key).
    Retry {
        /// The job's id, as `worker jobs list` prints it.
        #[arg(value_parser = positive::<i64>)]
        id: i64,
        /// Mint a new idempotency key: refused unless every send proved nothing executed
        /// (or --yes); after BUNDLE_PRICING_CHANGED it first asks the API for the new price.
        #[arg(long)]
        new_key: bool,
        /// Confirm a retry that may execute the mutation a second time, or a new price unseen.
        #[arg(long)]
        yes: bool,
        /// With --new-key after BUNDLE_PRICING_CHANGED: queue it only if the API's price is N credits.
        #[arg(long, value_name = "N", requires = "new_key")]
        accept_price: Option<f64>,
        /// The job as one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Cancel a queued job that was never sent.
    Cancel {
        /// The job's id, as `worker jobs list` prints it.
        #[arg(value_parser = positive::<i64>)]
        id: i64,
        /// The job as one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
}
