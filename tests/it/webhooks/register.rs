//! `worker webhooks register` prints the secret once, with how to store it;
//! `worker webhooks list` shows every registered endpoint, never a secret.

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
    let registered = sim.webhook_endpoints();
    assert_eq!(registered.len(), 1, "sent once");
    assert_eq!(registered[0].events, ["bundle.published"]);
    sim.shutdown().await;
}

async fn list(sim: &tokportal_sync::sim::SimServer) -> (std::process::Output, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (path, base) = (dir.path().to_path_buf(), sim.base_url().to_string());
    let out = tokio::task::spawn_blocking(move || {
        let env = [
            ("TOKPORTAL_API_KEY", DEMO_KEY),
            ("TOKPORTAL__API__BASE_URL", &base),
            ("TOKPORTAL__API__PER_PAGE", "5"),
        ];
        worker(&path, &["webhooks", "list"], &env)
    })
    .await
    .unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    (out, stdout, stderr)
}

#[tokio::test]
async fn list_shows_every_page_of_endpoints_and_no_secret() {
    let sim = sim(1).await;
    let (out, stdout, stderr) = list(&sim).await;
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.trim(), "No webhook endpoint is registered.");

    let mut secrets = Vec::new();
    for n in 0..12 {
        let url = format!("https://example.test/hook/{n}");
        secrets.push(sim.register_webhook(DEMO_KEY, &url, &["bundle.created"]).unwrap().secret);
    }
    let (out, stdout, stderr) = list(&sim).await;
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.lines().count(), 12, "three pages of five: {stdout}");
    for n in 0..12 {
        assert!(stdout.contains(&format!("https://example.test/hook/{n} ")), "endpoint {n}: {stdout}");
    }
    assert!(stdout.contains("bundle.created"), "{stdout}");
    for secret in &secrets {
        assert!(!stdout.contains(secret.as_str()) && !stderr.contains(secret.as_str()), "a secret was shown");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_registration_whose_answer_is_lost_is_not_sent_again() {
    let sim = sim(1).await;
    sim.update_faults(|f| {
        f.target = tokportal_sync::sim::FaultTarget::Writes;
        f.drop_next = 1;
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (path, base) = (dir.path().to_path_buf(), sim.base_url().to_string());
    let out = tokio::task::spawn_blocking(move || {
        let args = ["webhooks", "register", "--url", "https://example.test/lost"];
        worker(&path, &args, &[("TOKPORTAL_API_KEY", DEMO_KEY), ("TOKPORTAL__API__BASE_URL", &base)])
    })
    .await
    .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not retried") && stderr.contains("worker webhooks list"), "{stderr}");
    // Executed once by the server, sent once by the worker.
    assert_eq!(sim.webhook_endpoints().len(), 1);
    assert_eq!(sim.key_stats(DEMO_KEY).map(|k| k.requests), Some(1), "sent once");
    sim.shutdown().await;
}
