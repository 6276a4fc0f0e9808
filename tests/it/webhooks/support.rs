//! A receiver served on 127.0.0.1:0 over a test database, deliveries signed
//! like TokPortal's, and a refresher on the simulator.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::StatusCode;

use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::Notify;
use tokportal_sync::sim::{DEMO_KEY, SimServer};
use tokportal_sync::webhooks::{Receiver, Refresher, receiver, signature};

use crate::api_support::demo_client;

pub const SECRET: &str = "whsec_test_current";

/// Serves the receiver with `secrets`; returns its URL and the wake-up.
pub async fn serve(pool: &PgPool, secrets: &[&str]) -> (String, Arc<Notify>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{}", listener.local_addr().unwrap(), receiver::PATH);
    let secrets = secrets.iter().map(|s| SecretString::from(*s)).collect();
    (url, serve_on(listener, pool, secrets))
}

/// Serves the receiver registered with `sim` (the demo key, every type),
/// with the secret the registration answered; returns the wake-up.
pub async fn serve_registered(pool: &PgPool, sim: &SimServer) -> Arc<Notify> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{}", listener.local_addr().unwrap(), receiver::PATH);
    let registered = sim.register_webhook(DEMO_KEY, &url, &[]).expect("the demo key is known");
    serve_on(listener, pool, vec![SecretString::from(registered.secret)])
}

fn serve_on(listener: tokio::net::TcpListener, pool: &PgPool, secrets: Vec<SecretString>) -> Arc<Notify> {
    let wake = Arc::new(Notify::new());
    let r = Receiver {
        pool: pool.clone(),
        secrets: Arc::new(secrets),
        tolerance: Duration::from_secs(300),
        wake: wake.clone(),
    };
    tokio::spawn(async move { axum::serve(listener, receiver::routes(r)).await.unwrap() });
    wake
}

/// The body of event `id` (the event id is the signed body's `id`).
pub fn envelope(id: &str, kind: &str, data: Value) -> Vec<u8> {
    json!({ "id": id, "type": kind, "created_at": "2026-11-29T00:00:00Z", "data": data })
        .to_string()
        .into_bytes()
}

/// POSTs `body` with `id` in the `TokPortal-Event-Id` header, signed with `secret` at now + `skew` seconds.
pub async fn deliver(url: &str, id: &str, body: &[u8], secret: Option<&str>, skew: i64) -> u16 {
    let mut request = reqwest::Client::new().post(url).header("TokPortal-Event-Id", id).body(body.to_vec());
    if let Some(secret) = secret {
        let t = chrono::Utc::now().timestamp() + skew;
        request =
            request.header("TokPortal-Signature", signature::sign(&SecretString::from(secret), t, body));
    }
    request.send().await.unwrap().status().as_u16()
}

/// Stores an event as the receiver would, without a delivery.
pub async fn store(pool: &PgPool, id: &str, kind: &str, data: Value) {
    let event =
        tokportal_sync::webhooks::receiver::Event::parse(&envelope(id, kind, data), Some(id)).unwrap();
    tokportal_sync::webhooks::events::insert(
        pool,
        &event.id,
        &event.kind,
        event.bundle_id.as_deref(),
        &event.envelope,
    )
    .await
    .unwrap();
}

pub async fn stored(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM tokportal.webhook_events").fetch_one(pool).await.unwrap()
}

pub fn refresher(pool: &PgPool, sim: &SimServer, window: Duration) -> Refresher {
    Refresher::new(pool.clone(), demo_client(sim, 10_000.0, 10_000), window)
}

/// A simulator without rate limiting (the mirror tests' own).
pub use crate::mirror::support::sim;

/// Walks bundles, slots and accounts once, so the mirror starts right.
pub async fn mirrored(pool: &PgPool, sim: &SimServer) {
    let m = crate::mirror::support::mirror(pool, sim, crate::mirror::support::settings());
    crate::mirror::support::sync_all(&m).await;
}

/// A refresher on a scripted API that answers `answers` in turn (the last
/// one from then on), for answers the simulator never gives; returns it and
/// the number of requests the API got.
pub async fn scripted_refresher(pool: &PgPool, answers: Vec<(u16, Value)>) -> (Refresher, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let answers = Arc::new(answers);
    let counted = hits.clone();
    let app = axum::Router::new().fallback(move || {
        let (hits, answers) = (counted.clone(), answers.clone());
        async move {
            let n = hits.fetch_add(1, Ordering::SeqCst);
            let (status, body) = answers[n.min(answers.len() - 1)].clone();
            (StatusCode::from_u16(status).unwrap(), axum::Json(body))
        }
    });
    let (options, _server) = crate::api_support::scripted(app).await;
    let budget = crate::api_support::budget_options(10_000.0, 10_000);
    let client = crate::api_support::client(options, budget);
    (Refresher::new(pool.clone(), client, Duration::ZERO), hits)
}

/// Makes every stored event's retry due now.
pub async fn due_now(pool: &PgPool) {
    sqlx::query("UPDATE tokportal.webhook_events SET run_after = now()").execute(pool).await.unwrap();
}

/// What the metrics recorded while the guard of [`local_metrics`] lives.
pub fn local_metrics()
-> (metrics_exporter_prometheus::PrometheusRecorder, metrics_exporter_prometheus::PrometheusHandle) {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    (recorder, handle)
}
