//! `POST /webhooks`: one of the operations the API refuses an
//! `Idempotency-Key` for (its answer holds the signing secret), so it cannot
//! go through the job queue: it is sent once, through the key's budget
//! ([`Client::create_webhook`]), and never retried automatically (a retry
//! after a lost answer could register the endpoint twice).

use serde_json::{Value, json};

use crate::api::{ApiError, Client};

/// Sends `POST /webhooks` once; returns the `data` object.
pub async fn register(client: &Client, url: &str, events: &[String]) -> anyhow::Result<Value> {
    let body = json!({ "url": url, "events": events }).to_string();
    let response = client.create_webhook(&body).await.map_err(|e| match e {
        // A lost answer, a timeout or a 5xx: the endpoint may exist now.
        ApiError::Retryable { .. } => anyhow::anyhow!(
            "{e}; POST /webhooks is not retried (it may have been executed): check `worker webhooks list` \
             before registering again"
        ),
        other => other.into(),
    })?;
    let body = response.body;
    anyhow::ensure!(body.is_object(), "POST /webhooks answered something other than a JSON object");
    Ok(body.get("data").cloned().unwrap_or(body))
}
