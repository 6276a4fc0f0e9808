//! Starting simulators and talking to them in tests.

use reqwest::{Client, RequestBuilder, Response};
use serde_json::Value;
use tokportal_sync::sim::{self, DEMO_KEY, SimConfig, SimServer};

/// Rate limiting off, so tests that are not about the bucket never meet it.
pub fn unlimited() -> SimConfig {
    SimConfig { rate_limit: false, ..SimConfig::default() }
}

pub async fn start(config: SimConfig) -> SimServer {
    sim::start(config).await.expect("the simulator starts")
}

pub fn client() -> Client {
    Client::builder().build().expect("a reqwest client")
}

pub struct Api<'a> {
    pub sim: &'a SimServer,
    pub http: Client,
    pub key: String,
}

impl<'a> Api<'a> {
    pub fn new(sim: &'a SimServer) -> Self {
        Api { sim, http: client(), key: DEMO_KEY.to_string() }
    }

    pub fn with_key(sim: &'a SimServer, key: &str) -> Self {
        Api { sim, http: client(), key: key.to_string() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url())
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.http.get(self.url(path)).header("X-API-Key", &self.key)
    }

    pub fn post(&self, path: &str, body: &str) -> RequestBuilder {
        self.http
            .post(self.url(path))
            .header("X-API-Key", &self.key)
            .header("Content-Type", "application/json")
            .body(body.to_string())
    }

    pub fn patch(&self, path: &str, body: &str) -> RequestBuilder {
        self.http
            .patch(self.url(path))
            .header("X-API-Key", &self.key)
            .header("Content-Type", "application/json")
            .body(body.to_string())
    }

    pub async fn get_json(&self, path: &str) -> Value {
        json(self.get(path).send().await.expect("the request is answered")).await
    }
}

pub fn admin_url(sim: &SimServer, path: &str) -> String {
    format!("{}{path}", sim.admin_url())
}

pub async fn json(response: Response) -> Value {
    response.json().await.expect("a JSON body")
}

pub fn header<'r>(response: &'r Response, name: &str) -> Option<&'r str> {
    response.headers().get(name).map(|v| v.to_str().expect("an ASCII header"))
}

/// The error code of an error envelope.
pub async fn code(response: Response) -> (u16, String, Value) {
    let status = response.status().as_u16();
    let body = json(response).await;
    let code = body["error"]["code"].as_str().unwrap_or_default().to_string();
    (status, code, body["error"]["details"].clone())
}

pub const CREATE: &str = r#"{"bundle_type":"account_and_videos","platform":"tiktok","country":"US","videos_quantity":3,"title":"Launch \"v2\" ✨"}"#;

/// The price of `CREATE`: account 10 + 3 videos × 2.
pub const CREATE_COST: i64 = 16;

/// Waits until `done` holds, checking every few milliseconds, for at most 10 s.
/// For conditions that depend on another task making progress, never on time passing.
pub async fn until(mut done: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if done() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    panic!("condition not reached within 10 s");
}
