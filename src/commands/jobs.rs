//! `worker jobs list|show|retry|cancel`: the mutation queue for a person.
//! Tables on a terminal, JSON with `--json`.

use std::io::Write;

use anyhow::Context;

use crate::api::ApiError;
use crate::cli::JobsCommand;
use crate::config::Config;
use crate::jobs::queue::{self, Attempt, Job};
use crate::{db, startup};

pub async fn run(command: JobsCommand, config: &Config) -> anyhow::Result<()> {
    let pool = startup::require_pool(config).await?;
    db::ensure_migrated(&pool).await?;
    let mut out = std::io::stdout().lock();
    match command {
        JobsCommand::List { status, limit, json } => {
            let jobs = queue::list(&pool, status.as_deref(), limit).await.context("Failed to list jobs")?;
            if json {
                for job in &jobs {
                    writeln!(out, "{}", serde_json::to_string(job)?)?;
                }
            } else {
                writeln!(out, "{}", header())?;
                for job in &jobs {
                    writeln!(out, "{}", line(job))?;
                }
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
        JobsCommand::Retry { id, new_key, yes, json } => {
            let job = find(&pool, id).await?;
            let note = retry_check(&job, new_key, yes)?;
            let job = queue::requeue(&pool, id, &job.status, new_key)
                .await
                .context("Failed to queue the job again")?
                .ok_or_else(|| {
                    usage(format!("job {id} changed meanwhile; look again with `worker jobs show {id}`"))
                })?;
            eprintln!(
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

/// Whether retrying `job` this way is allowed, and what a person should know.
///
/// With `--new-key` it always says whether a new key is safe for this job:
/// safe when the API answered with an error (a 4xx: nothing executed under the
/// old key), unsafe for an expired job (its outcome is unknown and the API may
/// have forgotten its key, so a new key can execute and charge a second time),
/// which therefore needs `--yes`.
fn retry_check(job: &Job, new_key: bool, yes: bool) -> anyhow::Result<String> {
    let id = job.id;
    match job.status.as_str() {
        "expired" if !yes => Err(usage(if new_key {
            format!(
                "job {id} expired: a new key is NOT safe for it: its outcome is unknown and the API may have \
                 executed it under the old key, so sending it under a new key may execute it a second time and \
                 charge twice. Check whether it ran, then repeat with --yes"
            )
        } else {
            format!(
                "job {id} expired: its outcome is unknown and the API may have forgotten its key, so sending it \
                 again (with the same key or a new one) may execute it a second time and charge twice. Check \
                 whether it ran, then repeat with --yes"
            )
        })),
        "expired" if new_key => {
            Ok("not safe, confirmed with --yes: the job expired with its outcome unknown, so \
             under a new key it may execute a second time and charge twice"
                .into())
        }
        "expired" => {
            Ok("confirmed with --yes: the API may have forgotten the key, so it may execute a second time"
                .into())
        }
        "failed" => {
            let executed = job.response_status.is_some_and(|s| (200..300).contains(&s));
            if executed && !yes {
                return Err(usage(format!(
                    "job {id} got a {} answer (it ran) whose body could not be read: retrying{} may execute it \
                     again and charge twice; repeat with --yes if that is what you want",
                    job.response_status.unwrap_or_default(),
                    if new_key { " under a new key is NOT safe: it" } else { "" }
                )));
            }
            let answered = job
                .response_status
                .map(|s| {
                    format!("the API answered {s} {}", job.error_code.as_deref().unwrap_or(""))
                        .trim_end()
                        .to_string()
                })
                .unwrap_or_else(|| "it was never executed".into());
            Ok(match (new_key, executed) {
                (true, true) => format!(
                    "not safe, confirmed with --yes: {answered} (it ran), so under a new key it executes again"
                ),
                (true, false) => format!(
                    "a new key is safe for this job: {answered}, so nothing ran under the old key and a new key \
                     cannot charge twice"
                ),
                (false, _) => format!(
                    "same key: the API keeps the answer to a key for 24 h, errors included, so within 24 h of the \
                     first send it replays that answer ({answered}); use --new-key to have it executed again"
                ),
            })
        }
        other => Err(usage(format!("job {id} is {other}: only failed or expired jobs can be retried"))),
    }
}

async fn find(pool: &sqlx::PgPool, id: i64) -> anyhow::Result<Job> {
    queue::get(pool, id).await.context("Failed to read the job")?.ok_or_else(|| usage(format!("no job {id}")))
}

fn usage(message: String) -> anyhow::Error {
    anyhow::Error::new(ApiError::Invalid { request: "worker jobs".into(), message })
}

fn print_job(out: &mut impl Write, job: &Job, json: bool) -> anyhow::Result<()> {
    if json {
        writeln!(out, "{}", serde_json::to_string(job)?)?;
    } else {
        writeln!(out, "{}\n{}", header(), line(job))?;
    }
    Ok(())
}

fn header() -> String {
    format!(
        "{:>8} {:<9} {:<6} {:<40} {:>8} {:>6} {:<20} {:<28}  {}",
        "id", "status", "method", "path", "attempts", "http", "run after (UTC)", "code", "error"
    )
}

fn line(j: &Job) -> String {
    format!(
        "{:>8} {:<9} {:<6} {:<40} {:>8} {:>6} {:<20} {:<28}  {}",
        j.id,
        j.status,
        j.method,
        j.path,
        j.attempts,
        j.response_status.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
        j.run_after.format("%Y-%m-%d %H:%M:%S"),
        j.error_code.as_deref().unwrap_or("-"),
        j.last_error.as_deref().unwrap_or("")
    )
}

fn show(out: &mut impl Write, j: &Job, attempts: &[Attempt]) -> anyhow::Result<()> {
    writeln!(out, "job {} {} {} ({})", j.id, j.method, j.path, j.status)?;
    writeln!(out, "  idempotency key  {}", j.idempotency_key)?;
    writeln!(out, "  ordering key     {}", j.ordering_key.as_deref().unwrap_or("-"))?;
    writeln!(out, "  body             {}", j.body.as_deref().unwrap_or("-"))?;
    writeln!(out, "  attempts         {} failed of {} sends", j.attempts, j.claims)?;
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
