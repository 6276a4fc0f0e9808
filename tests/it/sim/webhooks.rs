//! Webhooks: endpoints stored per key, the events changes emit, and their
//! signed deliveries to a receiver inside the test (127.0.0.1, ephemeral
//! port) that records every request and answers 500 or holds on demand.

mod delivery;
mod emission;
mod endpoints;
mod faults;
mod reads;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{KeyInit, Mac};
use serde_json::{Map, Value, json};
use tokio::sync::Notify;
use tokportal_sync::sim::SimServer;

use super::support::Api;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().expect("an ASCII header"))
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn event_id(&self) -> String {
        self.header("tokportal-event-id").to_string()
    }

    /// The `t` of `TokPortal-Signature`.
    pub fn signed_at(&self) -> i64 {
        let t = self.header("tokportal-signature").split(',').find_map(|p| p.strip_prefix("t="));
        t.expect("a t= part").parse().expect("t is a number")
    }

    /// Whether the `v1` is the HMAC-SHA256 of `"<t>.<body>"` keyed with `secret`,
    /// recomputed here, apart from the simulator's code.
    pub fn verifies(&self, secret: &str) -> bool {
        let header = self.header("tokportal-signature");
        let Some(v1) = header.split(',').find_map(|p| p.strip_prefix("v1=")) else { return false };
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{}.", self.signed_at()).as_bytes());
        mac.update(&self.body);
        hex::encode(mac.finalize().into_bytes()) == v1
    }
}

#[derive(Clone, Default)]
pub struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    /// Answer 500 to this many requests, then 200.
    fail_next: Arc<AtomicUsize>,
    /// When set, every request waits for a `notify_waiters` before it is answered.
    hold: Option<Arc<Notify>>,
    pub url: String,
}

impl Receiver {
    pub async fn start() -> Self {
        Self::listen(Receiver::default()).await
    }

    /// A receiver that answers nothing until `hold` is notified.
    pub async fn holding(hold: Arc<Notify>) -> Self {
        Self::listen(Receiver { hold: Some(hold), ..Receiver::default() }).await
    }

    async fn listen(mut receiver: Receiver) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        receiver.url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let app = Router::new().route("/hooks", post(record)).with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    pub fn fail_next(&self, n: usize) {
        self.fail_next.store(n, Ordering::SeqCst);
    }

    pub fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits (at most 10 s) until `n` requests arrived; returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        super::support::until(|| self.got.lock().unwrap().len() >= n).await;
        self.got()
    }
}

async fn record(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.got.lock().unwrap().push(Received { headers, body });
    if let Some(hold) = &r.hold {
        hold.notified().await;
    }
    let failing = r.fail_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    if failing.is_ok() { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK }
}

/// `POST /webhooks` with the API key of `api`; returns the endpoint's id and secret.
pub async fn register(api: &Api<'_>, url: &str, events: Value) -> (String, String) {
    let response = api.post("/webhooks", &json!({ "url": url, "events": events }).to_string()).send().await;
    let response = response.unwrap();
    assert_eq!(response.status(), 201);
    let data = response.json::<Value>().await.unwrap()["data"].clone();
    (data["id"].as_str().unwrap().to_string(), data["secret"].as_str().unwrap().to_string())
}

pub fn set(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

/// The types of every event emitted so far, oldest first.
pub fn kinds(sim: &SimServer) -> Vec<String> {
    sim.webhook_events().into_iter().map(|e| e.kind).collect()
}

/// The id of a seeded bundle in `status`.
pub fn bundle_in(sim: &SimServer, status: &str) -> String {
    let items = sim.list_items();
    let found = items.iter().find(|(_, item)| item["status"] == status);
    found.map(|(id, _)| id.clone()).unwrap_or_else(|| panic!("a seeded {status} bundle"))
}
