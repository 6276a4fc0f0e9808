//! `worker webhooks register` prints the secret once, with how to store it.

use tokportal_sync::sim::DEMO_KEY;

use super::support::sim;
use crate::helpers::{text, worker};

#[tokio::test]
async fn register_sends_post_webhooks_once_and_prints_the_secret_with_how_to_store_it() {
    let sim = sim(1).await;
    let dir = tempfile::tempdir().unwrap();
    let (path, base) = (dir.path().to_path_buf(), sim.base_url().to_string());
    let out = tokio::task::spawn_blocking(move || {
        let args = [
            "webhooks",
            "register",
            "--url",
            "https://example.test/webhooks/tokportal",
            "--event",
            "bundle.published",
        ];
        worker(&path, &args, &[("TOKPORTAL_API_KEY", DEMO_KEY), ("TOKPORTAL__API__BASE_URL", &base)])
    })
    .await
    .unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("Signing secret (shown once, store it now): whsec_"), "{stdout}");
    assert!(stdout.contains("TOKPORTAL_WEBHOOK_SECRET"), "{stdout}");
    assert!(stderr.contains("never retried"), "{stderr}");
    assert!(!stderr.contains("whsec_"), "the secret never reaches the log: {stderr}");
}
