//! `worker jobs list|show|retry|cancel`: the mutation queue for a person.
//! Tables on a terminal, JSON with `--json`.

use std::io::Write;

use anyhow::Context;

use crate::api::MutationMethod;
use crate::cli::JobsCommand;
use crate::config::Config;
use crate::jobs::queue::{self, Attempt, Job};
use crate::jobs::{retry, validate};
use crate::startup;

pub async fn run(command: JobsCommand, config: &Config) -> anyhow::Result<()> {
    let pool = startup::database(config).await?;
    let mut out = crate::output::Stdout;
    match command {
        JobsCommand::List { status, limit, json } => {
            let jobs = queue::list(&pool, status.as_deref(), limit).await.context("Failed to list jobs")?;
            if json {
                for job in &jobs {
                    writeln!(out, "{}", serde_json::to_string(job)?)?;
                }
            } else {
                write!(out, "{}", table(&jobs))?;
            }
        }
        JobsCommand::Show { id, json } => {
            let job = find(&pool, id).await?;
            let attempts = queue::attempts(&pool, id).await.context("Failed to read the attempts")?;
            if json {
                let value = serde_json::json!({ "job": job, "attempts": attempts });
                writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
            } else {
                show(&mut out, &job, &attempts)?;
            }
        }
        JobsCommand::Retry { id, new_key, yes, accept_price, json } => {
            let job = find(&pool, id).await?;
            let attempts = queue::attempts(&pool, id).await.context("Failed to read the attempts")?;
            let ask = retry::Ask { new_key, yes, accept_price };
            let note = match retry::retry_check(&job, &attempts, &ask).map_err(usage)? {
                retry::Plan::Requeue(note) => note,
                retry::Plan::AskPrice(note) => {
                    let price = new_price(config, &pool, &job).await?;
                    format!("{note}; {}", retry::accept_price(&job, price, &ask).map_err(usage)?)
                }
            };
            let job = queue::requeue(&pool, id, &job.status, new_key)
                .await
                .context("Failed to queue the job again")?
                .ok_or_else(|| {
                    usage(format!("job {id} changed meanwhile; look again with `worker jobs show {id}`"))
                })?;
            crate::errln!(
                "job {id} queued again{}: {note}",
                if new_key { " under a new idempotency key" } else { "" }
            );
            print_job(&mut out, &job, json)?;
        }
        JobsCommand::Cancel { id, json } => {
            let job = find(&pool, id).await?;
            let cancelled = queue::cancel(&pool, id).await.context("Failed to cancel the job")?;
            let Some(job) = cancelled else {
                return Err(usage(format!(
                    "job {id} is {}{}: only a queued job that was never sent can be cancelled",
                    job.status,
                    if job.first_sent_at.is_some() { " and was already sent" } else { "" }
                )));
            };
            print_job(&mut out, &job, json)?;
        }
    }
    Ok(())
}

/// The price the API asks now for the job's request, by the dry run `worker
/// enqueue --price` makes (no idempotency key, nothing charged), printed on
/// stderr; None when no dry run prices this operation.
async fn new_price(config: &Config, pool: &sqlx::PgPool, job: &Job) -> anyhow::Result<Option<f64>> {
    let method: MutationMethod = job.method.parse()?;
    if !validate::is_creation(method, &job.path) {
        crate::errln!("price: no dry run prices {} {}", job.method, job.path);
        return Ok(None);
    }
    let client = startup::write_client(&config.api, Some(pool)).await?;
    let priced = client
        .dry_run(method, &job.path, job.body.as_deref())
        .await
        .context("Failed to ask the API for the new price (nothing was queued)")?;
    let price = validate::dry_run_price(&priced.body);
    match price {
        Some(credits) => crate::errln!("price: {credits} credits now (dry run: nothing executed or charged)"),
        None => {
            crate::errln!("price: the dry run answered without credits_required: {}", priced.body["data"])
        }
    }
    Ok(price)
}

async fn find(pool: &sqlx::PgPool, id: i64) -> anyhow::Result<Job> {
    queue::get(pool, id).await.context("Failed to read the job")?.ok_or_else(|| usage(format!("no job {id}")))
}

fn usage(message: String) -> anyhow::Error {
    crate::cli::usage("jobs", message)
}

fn print_job(out: &mut impl Write, job: &Job, json: bool) -> anyhow::Result<()> {
    if json {
        writeln!(out, "{}", serde_json::to_string(job)?)?;
    } else {
        write!(out, "{}", table(std::slice::from_ref(job)))?;
    }
    Ok(())
}

/// The jobs as a table whose columns are as wide as their widest cell.
fn table(jobs: &[Job]) -> String {
    const HEADER: [&str; 9] =
        ["id", "status", "method", "path", "attempts", "http", "run after (UTC)", "code", "error"];
    // Numbers align right, text left; the last column is not padded.
    const RIGHT: [bool; 9] = [true, false, false, false, true, true, false, false, false];
    let rows: Vec<[String; 9]> = jobs
        .iter()
        .map(|j| {
            [
                j.id.to_string(),
                j.status.clone(),
                j.method.clone(),
                j.path.clone(),
                j.attempts.to_string(),
                j.response_status.map_or_else(|| "-".into(), |s| s.to_string()),
                j.run_after.format("%Y-%m-%d %H:%M:%S").to_string(),
                j.error_code.clone().unwrap_or_else(|| "-".into()),
                j.last_error.as_deref().unwrap_or_default().replace(['\n', '\r'], " "),
            ]
        })
        .collect();
    let mut widths = HEADER.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 9]| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| match (i, RIGHT[i]) {
                (8, _) => (*c).to_string(),
                (_, true) => format!("{c:>w$}", w = widths[i]),
                (_, false) => format!("{c:<w$}", w = widths[i]),
            })
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut text = line(HEADER);
    for row in &rows {
        text.push_str(&line(row.each_ref().map(String::as_str)));
    }
    text
}

/// Sends that got a failure (retried or failed) and sends in all: a send
/// never made (released, the key refused) is not one; one whose answer was
/// never recorded is.
fn failed_of_sends(attempts: &[Attempt]) -> (usize, usize) {
    let sent = attempts.iter().filter(|a| !matches!(a.outcome.as_deref(), Some("not_sent" | "key_refused")));
    let failed = sent.clone().filter(|a| matches!(a.outcome.as_deref(), Some("retry" | "failed"))).count();
    (failed, sent.count())
}

fn show(out: &mut impl Write, j: &Job, attempts: &[Attempt]) -> anyhow::Result<()> {
    writeln!(out, "job {} {} {} ({})", j.id, j.method, j.path, j.status)?;
    writeln!(out, "  idempotency key  {}", j.idempotency_key)?;
    writeln!(out, "  ordering key     {}", j.ordering_key.as_deref().unwrap_or("-"))?;
    writeln!(out, "  body             {}", j.body.as_deref().unwrap_or("-"))?;
    let (failed, sends) = failed_of_sends(attempts);
    writeln!(out, "  attempts         {failed} failed of {sends} sends")?;
    writeln!(out, "  created          {}", j.created_at)?;
    if let Some(at) = j.first_sent_at {
        writeln!(out, "  first sent       {at}")?;
    }
    if let Some(status) = j.response_status {
        writeln!(
            out,
            "  response         {status}{}",
            if j.replayed == Some(true) { " (replayed)" } else { "" }
        )?;
    }
    if let Some(credits) = j.credits_charged {
        writeln!(out, "  credits charged  {credits}")?;
    }
    if let Some(code) = &j.error_code {
        writeln!(out, "  error code       {code}")?;
    }
    if let Some(e) = &j.last_error {
        writeln!(out, "  error            {e}")?;
    }
    writeln!(
        out,
        "\n  {:>3} {:<26} {:>7} {:>5} {:<12} {:<28} {:<8}  {:<10}",
        "#", "sent (UTC)", "ms", "http", "outcome", "code", "replayed", "request id"
    )?;
    for a in attempts {
        writeln!(
            out,
            "  {:>3} {:<26} {:>7} {:>5} {:<12} {:<28} {:<8}  {}",
            a.attempt,
            a.sent_at.format("%Y-%m-%d %H:%M:%S%.3f"),
            a.duration_ms.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
            a.http_status.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
            a.outcome.as_deref().unwrap_or("(no answer recorded)"),
            a.error_code.as_deref().unwrap_or("-"),
            a.replayed.map(|r| r.to_string()).unwrap_or_else(|| "-".into()),
            a.request_id.as_deref().unwrap_or("-")
        )?;
    }
    Ok(())
}
