//! `worker enqueue METHOD PATH [--body JSON | --body-file F] [--idempotency-key K]
//! [--ordering-key K] [--price]`: validates, inserts one job, prints it as JSON.
//! With `--price` (creations only) it first asks the API for the price with a
//! dry run, prints it on stderr, then enqueues.

use anyhow::Context;

use crate::api::MutationMethod;
use crate::cli::EnqueueArgs;
use crate::config::Config;
use crate::jobs::{queue, validate};
use crate::startup;

pub async fn run(args: EnqueueArgs, config: &Config) -> anyhow::Result<()> {
    let body = match (&args.body, &args.body_file) {
        (Some(body), _) => Some(body.clone()),
        (None, Some(path)) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| usage(anyhow::anyhow!("--body-file {}: cannot be read: {e}", path.display())))?,
        ),
        (None, None) => None,
    };
    let job = validate::new_job(&args.method, &args.path, body, args.idempotency_key, args.ordering_key)
        .map_err(usage)?;
    let method: MutationMethod = job.method.parse().map_err(usage)?;
    if args.price && !validate::is_creation(method, &job.path) {
        return Err(usage(anyhow::anyhow!(
            "--price is for bundle creations only (POST /bundles, /bundles/bulk): the reference shows no \
             dry run of anything else, and an API that ignored the header would execute and charge it"
        )));
    }
    let pool = startup::database(config).await?;
    if args.price {
        // The dry run goes WITHOUT the job's Idempotency-Key (see
        // `Client::dry_run`): it charges nothing, and under the persisted key
        // the API could store the priced answer and replay it to the real send.
        let client = startup::write_client(&config.api, Some(&pool)).await?;
        let priced = client
            .dry_run(method, &job.path, job.body.as_deref())
            .await
            .context("Failed to ask the API for the price (nothing was enqueued)")?;
        match validate::dry_run_price(&priced.body) {
            Some(credits) => crate::errln!("price: {credits} credits (dry run: nothing executed or charged)"),
            None => {
                crate::errln!("price: the dry run answered without credits_required: {}", priced.body["data"])
            }
        }
    }
    let job = queue::insert(&pool, &job).await.map_err(|e| match &e {
        sqlx::Error::Database(d) if d.constraint() == Some("mutation_jobs_idempotency_key_key") => {
            usage(anyhow::anyhow!("another job already has this idempotency key"))
        }
        _ => anyhow::Error::new(e).context("Failed to enqueue the job"),
    })?;
    crate::outln!("{}", serde_json::to_string_pretty(&job).context("Failed to encode the job")?);
    Ok(())
}

/// A usage error: exit status 2.
fn usage(e: anyhow::Error) -> anyhow::Error {
    crate::cli::usage("enqueue", format!("{e:#}"))
}
