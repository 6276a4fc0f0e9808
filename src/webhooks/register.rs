//! `POST /webhooks`: one of the operations the API refuses an
//! `Idempotency-Key` for (its answer holds the signing secret), so it cannot
//! go through the job queue or the client's mutation path: it is sent once,
//! here, and never retried automatically (a retry after a lost answer could
//! register the endpoint twice).

use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use url::Url;

/// Sends `POST {base}/webhooks` once with `key`; returns the `data` object.
pub async fn register(
    base: &Url,
    key: &SecretString,
    timeout: Duration,
    url: &str,
    events: &[String],
) -> anyhow::Result<Value> {
    let endpoint = format!("{}/webhooks", base.as_str().trim_end_matches('/'));
    let http = reqwest::Client::builder()
        .retry(reqwest::retry::never())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .context("Failed to build the HTTP client")?;
    let response = http
        .post(&endpoint)
        .header("X-API-Key", key.expose_secret())
        .header("X-TokPortal-Client", concat!("tokportal-sync/", env!("CARGO_PKG_VERSION")))
        .json(&json!({ "url": url, "events": events }))
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "POST /webhooks failed before an answer ({}); it is not retried: check `worker webhooks list` \
                 before registering again",
                crate::api::error::transport_reason(e)
            )
        })?;
    let status = response.status().as_u16();
    let body = response.bytes().await.context("Failed to read the answer of POST /webhooks")?;
    if !(200..300).contains(&status) {
        return Err(
            crate::api::error::from_status("POST /webhooks".into(), status, &body, String::new()).into()
        );
    }
    let body: Value =
        serde_json::from_slice(&body).context("POST /webhooks answered something other than JSON")?;
    Ok(body.get("data").cloned().unwrap_or(body))
}
