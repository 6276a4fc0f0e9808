//! The baseline of `bench/walk.sh`: walking a list the way the API's own
//! example does, plus the fixed pause a careful user adds: request a page,
//! sleep 1/rate, request the next, until `total_pages`; on a 429 sleep
//! `Retry-After` and ask again. No budget, no headers read, no dedup.
//!
//! `TOKPORTAL_API_KEY=… cargo run --release --example fixed_sleep_walk -- BASE_URL RATE PER_PAGE`
//! prints `{"items":…,"requests":…,"rate_limited":…}`.

use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, rate, per_page] = args.as_slice() else {
        anyhow::bail!("usage: fixed_sleep_walk BASE_URL RATE PER_PAGE (key in TOKPORTAL_API_KEY)");
    };
    let pause = Duration::from_secs_f64(1.0 / rate.parse::<f64>().context("RATE must be a number")?);
    let key = std::env::var("TOKPORTAL_API_KEY").context("TOKPORTAL_API_KEY is not set")?;
    let http = reqwest::Client::new();
    let (mut page, mut items, mut requests, mut rate_limited) = (1u64, 0usize, 0u64, 0u64);
    loop {
        let url = format!("{base}/bundles?page={page}&per_page={per_page}");
        let response = http.get(url).header("X-API-Key", &key).send().await.context("request failed")?;
        requests += 1;
        if response.status() == 429 {
            rate_limited += 1;
            let wait = response.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok());
            tokio::time::sleep(Duration::from_secs(wait.unwrap_or(1))).await;
            continue;
        }
        let body: Value = response.error_for_status().context("unexpected status")?.json().await?;
        items += body["data"].as_array().map_or(0, Vec::len);
        if page >= body["pagination"]["total_pages"].as_u64().unwrap_or(0) {
            break;
        }
        page += 1;
        tokio::time::sleep(pause).await;
    }
    println!("{}", serde_json::json!({ "items": items, "requests": requests, "rate_limited": rate_limited }));
    Ok(())
}
