//! `worker webhooks register --url URL [--event TYPE]...` and `worker webhooks list`.

use serde_json::Value;

use crate::api::Walk;
use crate::cli::WebhooksCommand;
use crate::config::Config;
use crate::{startup, webhooks};

pub async fn run(command: WebhooksCommand, config: &Config) -> anyhow::Result<()> {
    match command {
        WebhooksCommand::Register { url, event } => register(config, &url, &event).await,
        WebhooksCommand::List => list(config).await,
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
    eprintln!(
        "Registering {url} (POST /webhooks is sent once and never retried: it refuses idempotency keys)."
    );
    let config_api = crate::config::ApiConfig { key: Some(key.clone()), ..config.api.clone() };
    let pool = startup::pool(config).await?;
    let client = startup::client(&config_api, pool.as_ref()).await?;
    let data = webhooks::register::register(&client, url, events).await?;
    let id = data.get("id").and_then(Value::as_str).unwrap_or("?");
    let listed = data.get("events").map_or_else(String::new, Value::to_string);
    println!("Registered webhook endpoint {id} for {url} {listed}");
    match data.get("secret").and_then(Value::as_str) {
        Some(secret) => {
            println!("Signing secret (shown once, store it now): {secret}");
            println!(
                "Give it to the daemon as TOKPORTAL_WEBHOOK_SECRET (or a file named by \
                 TOKPORTAL_WEBHOOK_SECRET_FILE); while rotating, list the old and the new one comma-separated."
            );
        }
        None => println!("The answer held no signing secret; see the TokPortal dashboard."),
    }
    Ok(())
}

/// Every registered endpoint: `GET /webhooks` is a paginated list, so every
/// page is read (through the budget, like any walk). The signing secrets are
/// not part of the list (they are shown once, at registration).
async fn list(config: &Config) -> anyhow::Result<()> {
    let pool = startup::pool(config).await?;
    let client = startup::client(&config.api, pool.as_ref()).await?;
    let mut walk = Walk::new(client, "/webhooks", Vec::new(), config.api.per_page)?;
    let mut count = 0usize;
    while let Some(page) = walk.next_page().await? {
        for item in page.items {
            let field = |name: &str| {
                item.get(name)
                    .map_or_else(|| "-".into(), |v| v.as_str().map_or(v.to_string(), str::to_string))
            };
            println!("{}  {}  events={}", field("id"), field("url"), field("events"));
            count += 1;
        }
    }
    if count == 0 {
        println!("No webhook endpoint is registered.");
    }
    Ok(())
}
