//! `worker webhooks register --url URL [--event TYPE]...`, `worker webhooks
//! list [--json]` and `worker webhooks delete ID [--json]`.

use anyhow::Context;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::api::Walk;
use crate::cli::{WebhooksCommand, usage};
use crate::config::Config;
use crate::jobs::{self, queue, validate};
use crate::startup::{self, App};
use crate::{errln, outln, shutdown, webhooks};

pub async fn run(command: WebhooksCommand, config: &Config) -> anyhow::Result<()> {
    match command {
        WebhooksCommand::Register { url, event } => register(config, &url, &event).await,
        WebhooksCommand::List { json } => list(config, json).await,
        WebhooksCommand::Delete { id, json } => delete(config, &id, json).await,
    }
}

async fn register(config: &Config, url: &str, events: &[String]) -> anyhow::Result<()> {
    let key = config.api.write_key.as_ref().or(config.api.key.as_ref()).ok_or_else(|| {
        anyhow::Error::new(crate::config::ConfigError::Invalid {
            key: "TOKPORTAL_API_KEY".into(),
            origin: crate::config::Origin::Env("TOKPORTAL_API_KEY".into()),
            message: "worker webhooks register needs a key with write scope \
                      (TOKPORTAL_WRITE_API_KEY or TOKPORTAL_API_KEY)"
                .into(),
        })
    })?;
    errln!("Registering {url} (POST /webhooks is sent once and never retried: it refuses idempotency keys).");
    let config_api = crate::config::ApiConfig { key: Some(key.clone()), ..config.api.clone() };
    let pool = startup::pool(config).await?;
    let client = startup::client(&config_api, pool.as_ref()).await?;
    let data = webhooks::register::register(&client, url, events).await?;
    let id = data.get("id").and_then(Value::as_str).unwrap_or("?");
    outln!("Registered webhook endpoint {id} for {url}, {}", events_text(data.get("events")));
    match data.get("secret").and_then(Value::as_str) {
        Some(secret) => {
            outln!("Signing secret (shown once, store it now): {secret}");
            outln!(
                "Give it to the daemon as TOKPORTAL_WEBHOOK_SECRET (or a file named by \
                 TOKPORTAL_WEBHOOK_SECRET_FILE); while rotating, list the old and the new one comma-separated."
            );
        }
        None => outln!("The answer held no signing secret; see the TokPortal dashboard."),
    }
    Ok(())
}

/// An endpoint's `events` for a person: an empty or absent list subscribes to every event.
fn events_text(events: Option<&Value>) -> String {
    match events {
        None | Some(Value::Null) => "all events".into(),
        Some(Value::Array(list)) if list.is_empty() => "all events".into(),
        Some(Value::Array(list)) => {
            let names: Vec<String> =
                list.iter().map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_string)).collect();
            format!("events {}", names.join(", "))
        }
        Some(other) => format!("events {other}"),
    }
}

/// Every registered endpoint: `GET /webhooks` is a paginated list, so every
/// page is read (through the budget, like any walk). The signing secrets are
/// not part of the list (they are shown once, at registration).
async fn list(config: &Config, json: bool) -> anyhow::Result<()> {
    let pool = startup::pool(config).await?;
    let client = startup::client(&config.api, pool.as_ref()).await?;
    let mut walk = Walk::new(client, "/webhooks", Vec::new(), config.api.per_page)?;
    let mut count = 0usize;
    while let Some(page) = walk.next_page().await? {
        for item in page.items {
            count += 1;
            if json {
                outln!("{item}");
                continue;
            }
            let field = |name: &str| {
                item.get(name)
                    .map_or_else(|| "-".into(), |v| v.as_str().map_or(v.to_string(), str::to_string))
            };
            outln!("{}  {}  {}", field("id"), field("url"), events_text(item.get("events")));
        }
    }
    if count == 0 && !json {
        outln!("No webhook endpoint is registered.");
    }
    Ok(())
}

/// `DELETE /webhooks/{id}` goes through the queue like every mutation: it is
/// sent under the idempotency key persisted with its job, and retried with
/// that key. Only this job is sent here; other due jobs are left to the
/// daemon or `worker replay`.
async fn delete(config: &Config, id: &str, json: bool) -> anyhow::Result<()> {
    let path = format!("/webhooks/{id}");
    let new = validate::new_job("DELETE", &path, None, None, None)
        .map_err(|e| usage("webhooks delete", format!("{e:#}")))?;
    let app = App::connect(config).await?;
    let queued = queue::insert(app.pool(), &new).await.context("Failed to enqueue the DELETE")?;
    errln!("job {}: DELETE {path} queued under its own idempotency key; sending it", queued.id);
    let cancel = CancellationToken::new();
    shutdown::cancel_on_signal(cancel.clone());
    let replayer = app.cancelled_by(&cancel).replayer()?;
    if let Some(jobs::Outcome::KeyRefused { error, .. }) = jobs::run_one_job(&replayer, queued.id).await? {
        return Err(
            anyhow::Error::new(error).context("the API refused the key; the DELETE is back in the queue")
        );
    }
    let job = queue::get(app.pool(), queued.id)
        .await
        .context("Failed to read the job")?
        .with_context(|| format!("job {} is gone from the queue", queued.id))?;
    if json {
        outln!("{}", serde_json::to_string(&job)?);
    }
    match job.status.as_str() {
        "succeeded" => {
            if !json {
                outln!("Deleted webhook endpoint {id} (job {}).", job.id);
            }
            Ok(())
        }
        "failed" => anyhow::bail!(
            "DELETE {path} failed (job {}): {} {}",
            job.id,
            job.error_code.as_deref().unwrap_or("-"),
            job.last_error.as_deref().unwrap_or("")
        ),
        status => anyhow::bail!(
            "DELETE {path} is {status} (job {}): the daemon or `worker replay` sends it again with the same key; \
             see `worker jobs show {}`",
            job.id,
            job.id
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_or_absent_events_list_reads_all_events() {
        assert_eq!(events_text(None), "all events");
        assert_eq!(events_text(Some(&serde_json::json!([]))), "all events");
        assert_eq!(events_text(Some(&serde_json::json!(["a.b", "c.d"]))), "events a.b, c.d");
    }
}
