//! `worker enqueue METHOD PATH [--body JSON | --body-file F] [--idempotency-key K]
//! [--ordering-key K] [--price]`: validates, inserts one job, prints it as JSON.

use anyhow::Context;

use crate::cli::EnqueueArgs;
use crate::config::Config;
use crate::jobs::{queue, validate};
use crate::{db, startup};

pub async fn run(args: EnqueueArgs, config: &Config) -> anyhow::Result<()> {
    let body = match (&args.body, &args.body_file) {
        (Some(body), _) => Some(body.clone()),
        (None, Some(path)) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("Failed to read the body file {}", path.display()))?,
        ),
        (None, None) => None,
    };
    let job = validate::new_job(&args.method, &args.path, body, args.idempotency_key, args.ordering_key)
        .map_err(usage)?;
    if args.price {
        return Err(usage(anyhow::anyhow!("--price is not available yet: enqueue without it")));
    }
    let pool = startup::require_pool(config).await?;
    db::ensure_migrated(&pool).await?;
    let job = queue::insert(&pool, &job).await.map_err(|e| match &e {
        sqlx::Error::Database(d) if d.constraint() == Some("mutation_jobs_idempotency_key_key") => {
            usage(anyhow::anyhow!("another job already has this idempotency key"))
        }
        _ => anyhow::Error::new(e).context("Failed to enqueue the job"),
    })?;
    println!("{}", serde_json::to_string_pretty(&job).context("Failed to encode the job")?);
    Ok(())
}

/// A usage error: exit status 2.
fn usage(e: anyhow::Error) -> anyhow::Error {
    anyhow::Error::new(crate::api::ApiError::Invalid {
        request: "worker enqueue".into(),
        message: format!("{e:#}"),
    })
}
