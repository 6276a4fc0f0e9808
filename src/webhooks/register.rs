//! `POST /webhooks`: one of the operations the API refuses an
//! `Idempotency-Key` for (its answer holds the signing secret), so it cannot
//! go through the job queue: it is sent once, through the key's budget
//! ([`Client::create_webhook`]), and never retried automatically (a retry
//! after a lost answer could register the endpoint twice).

use serde_json::{Value, json};

use crate::api::{ApiError, Client};

/// Sends `POST /webhooks` once; returns the `data` object.
pub async fn register(client: &Client, url: &str, events: &[String]) -> anyhow::Result<Value> {
    let body = request_body(url, events).to_string();
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

/// `{"url", "events"}`; with no event named, `events` is left out so the
/// API applies its own default (an empty list might mean "none").
pub fn request_body(url: &str, events: &[String]) -> Value {
    if events.is_empty() { json!({ "url": url }) } else { json!({ "url": url, "events": events }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_event_named_leaves_events_out_of_the_body() {
        assert_eq!(request_body("https://x.test/h", &[]), json!({ "url": "https://x.test/h" }));
        let one = ["bundle.published".to_string()];
        assert_eq!(
            request_body("https://x.test/h", &one),
            json!({ "url": "https://x.test/h", "events": ["bundle.published"] })
        );
    }
}
