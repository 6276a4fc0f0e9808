//! The HTTP client of the TokPortal API: authentication, identification, one
//! request id per request, per-request timeouts, the key's budget in front of
//! every send, 429 handling, bounded retries of GETs, and error envelopes
//! turned into [`ApiError`]. Mutations can only be sent with an idempotency key.
//!
//! This file holds the [`Client`] and its verbs; `retry` the GET, retried
//! after a failure worth retrying; `send` the machinery every verb goes
//! through (budget, 429s, the attempt, the answer).

mod retry;
mod send;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::budget::Budget;
use super::counters::{CounterSnapshot, Counters};
use super::error::ApiError;
use super::mutation::{IdempotencyKey, MutationMethod};
use super::turns::Priority;

/// A caller's step run right before a request leaves (see
/// [`Client::mutate_with`]); an error keeps the request unsent.
pub type BeforeSend<'a> =
    &'a (dyn Fn() -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>> + Send + Sync);

/// How to reach the API. Built from the configuration outside `api/`.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Root of the API; request paths are appended to it.
    pub base_url: Url,
    pub key: SecretString,
    /// Timeout of one attempt, connection to last body byte.
    pub timeout: Duration,
    /// Retries of a GET after a retryable failure.
    pub max_retries: u32,
    /// Largest answer read: a larger body is an error naming the request,
    /// read no further (never held whole in memory).
    pub max_response_bytes: usize,
}

/// A successful response.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    pub body: Value,
    /// The `X-Request-ID` this client sent.
    pub request_id: String,
    /// `Idempotent-Replayed: true`: the server returned a stored response.
    pub replayed: bool,
}

/// Cheap to clone; clones share the budget and the counters.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    /// The class of every request of this clone; see [`Client::with_priority`].
    priority: Priority,
    /// Ends this clone's waits; see [`Client::with_cancel`].
    cancel: Option<CancellationToken>,
    /// Told each time a request of this clone is given its send; see [`Client::with_on_send`].
    on_send: Option<SendSignal>,
}

/// Raised when a request is given its send by the budget (it leaves now):
/// `sent` is set and `wake` notified. A caller keeping several requests in
/// flight launches the next one then, so at most one of them waits for the
/// budget at a time.
#[derive(Clone, Debug, Default)]
pub struct SendSignal {
    pub sent: Arc<std::sync::atomic::AtomicBool>,
    pub wake: Arc<tokio::sync::Notify>,
}

struct Inner {
    http: reqwest::Client,
    options: ClientOptions,
    budget: Arc<Budget>,
    counters: Counters,
}

impl Client {
    pub fn new(options: ClientOptions, budget: Arc<Budget>) -> anyhow::Result<Client> {
        // Checked once here so building the header later cannot fail.
        anyhow::ensure!(
            HeaderValue::from_str(options.key.expose_secret()).is_ok(),
            "the API key contains characters that cannot be sent in a header"
        );
        let http = reqwest::Client::builder()
            // Every attempt must pass the budget, so reqwest may not resend on its own.
            .retry(reqwest::retry::never())
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(options.timeout)
            .build()
            .map_err(|e| anyhow::anyhow!("Failed to build the HTTP client: {e}"))?;
        let inner = Arc::new(Inner { http, options, budget, counters: Counters::default() });
        Ok(Client { inner, priority: Priority::Normal, cancel: None, on_send: None })
    }

    /// A clone whose requests have `priority` within this process (the same
    /// budget, counters and connections): [`Priority::Refresh`] for the
    /// webhook refresher, whose requests someone is waiting for.
    pub fn with_priority(&self, priority: Priority) -> Client {
        Client { priority, ..self.clone() }
    }

    /// The share of the key's bucket holding tokens now, as this process last
    /// saw it (see [`Budget::share_held`]).
    pub fn bucket_share_held(&self) -> f64 {
        self.inner.budget.share_held()
    }

    /// A clone for a page a walk reads ahead, leaving `share` of the bucket
    /// unspent ([`Priority::ReadAhead`]) where this clone's requests are of
    /// the normal class; the same class otherwise.
    pub fn reading_ahead(&self, share: f64) -> Client {
        match self.priority {
            Priority::Normal => self.with_priority(Priority::ReadAhead { share }),
            _ => self.clone(),
        }
    }

    /// A clone whose waits end when `cancel` fires: a request still waiting
    /// for the key's budget (its turn, a 429 block, a GET's retry delay) is
    /// then not sent and fails with [`ApiError::Cancelled`]. A request already
    /// sent is never cut short: its answer is awaited (up to the timeout), so
    /// a mutation's outcome is always known to the caller that sent it.
    pub fn with_cancel(&self, cancel: CancellationToken) -> Client {
        Client { cancel: Some(cancel), ..self.clone() }
    }

    /// A clone that raises `signal` each time one of its requests is given
    /// its send (a GET's retry raises it again).
    pub fn with_on_send(&self, signal: SendSignal) -> Client {
        Client { on_send: Some(signal), ..self.clone() }
    }

    /// Answers received by this client and its clones, by HTTP status.
    pub fn responses(&self) -> Vec<(u16, u64)> {
        self.inner.counters.responses()
    }

    /// The key's fingerprint (never the key): what names it in logs and caches.
    pub fn key_fingerprint(&self) -> String {
        self.inner.budget.key_fingerprint().to_string()
    }

    pub fn counters(&self) -> CounterSnapshot {
        let booked_ahead = self.inner.budget.tokens_booked_ahead();
        CounterSnapshot { booked_ahead, ..self.inner.counters.snapshot() }
    }

    /// Sends one mutation. A 429 is waited out (the request was not executed);
    /// any other failure is returned for the caller to retry with the same key.
    pub async fn mutate(
        &self,
        method: MutationMethod,
        path: &str,
        idempotency_key: &IdempotencyKey,
        body: Option<&str>,
    ) -> Result<ApiResponse, ApiError> {
        self.send_mutation(method, path, idempotency_key, body, None).await
    }

    /// [`Client::mutate`], with `before_send` run right before each attempt
    /// leaves (after the budget let it go, before the HTTP send, again for
    /// every attempt after a 429): the caller records the send first. When it
    /// fails, the request is not sent: [`ApiError::Unrecorded`].
    pub async fn mutate_with(
        &self,
        method: MutationMethod,
        path: &str,
        idempotency_key: &IdempotencyKey,
        body: Option<&str>,
        before_send: BeforeSend<'_>,
    ) -> Result<ApiResponse, ApiError> {
        self.send_mutation(method, path, idempotency_key, body, Some(before_send)).await
    }

    async fn send_mutation(
        &self,
        method: MutationMethod,
        path: &str,
        idempotency_key: &IdempotencyKey,
        body: Option<&str>,
        before_send: Option<BeforeSend<'_>>,
    ) -> Result<ApiResponse, ApiError> {
        let method = match method {
            MutationMethod::Post => Method::POST,
            MutationMethod::Put => Method::PUT,
            MutationMethod::Patch => Method::PATCH,
            MutationMethod::Delete => Method::DELETE,
        };
        let url = self.url(path, &[])?;
        self.send(method, &url, Some(idempotency_key), body, false, before_send).await
    }

    /// Asks the API what a creation would cost (`X-TokPortal-Dry-Run: true`):
    /// it executes and charges nothing. Through the same budget as any request.
    ///
    /// Sent WITHOUT an `Idempotency-Key`, deliberately: a dry run charges
    /// nothing, so there is nothing to deduplicate, and sending it under the
    /// job's persisted key could make the API store the priced answer under
    /// that key and replay it to the real send, which would then never execute.
    /// Only the paid creations are priced; anything else is refused unsent.
    pub async fn dry_run(
        &self,
        method: MutationMethod,
        path: &str,
        body: Option<&str>,
    ) -> Result<ApiResponse, ApiError> {
        if !super::mutation::is_priced_creation(method, path) {
            return Err(ApiError::Invalid {
                request: format!("{} {path}", method.as_str()),
                message: "only creations (POST /bundles, /bundles/bulk, /bundles/{id}/add-video-slots, \
                          /bundles/{id}/add-edit-slots) can be priced with a dry run"
                    .into(),
            });
        }
        let url = self.url(path, &[])?;
        self.send(Method::POST, &url, None, body, true, None).await
    }

    /// `POST /webhooks` with `body`: one of the operations the API refuses an
    /// `Idempotency-Key` for (its answer holds the endpoint's signing secret),
    /// so the one mutation this client sends without a key. It goes through
    /// the key's budget like any request; a 429 is waited out (the server
    /// executed nothing), and any other failure, a lost answer included, is
    /// returned and never retried: a second send could register the endpoint
    /// twice. The caller says so and lets a person check `GET /webhooks`.
    pub async fn create_webhook(&self, body: &str) -> Result<ApiResponse, ApiError> {
        let url = self.url("/webhooks", &[])?;
        self.send(Method::POST, &url, None, Some(body), false, None).await.map_err(|mut e| {
            // A success whose body could not be decoded may still hold the
            // signing secret: the error keeps none of it.
            if let ApiError::Fatal { status: Some(200..=299), excerpt, .. } = &mut e {
                *excerpt = "undecodable answer (not shown: it may hold the endpoint's signing secret)".into();
            }
            e
        })
    }

    fn url(&self, path: &str, query: &[(String, String)]) -> Result<Url, ApiError> {
        let base = self.inner.options.base_url.as_str().trim_end_matches('/');
        let joined = format!("{base}/{}", path.trim_start_matches('/'));
        let mut url = Url::parse(&joined).map_err(|e| ApiError::Fatal {
            request: path.to_string(),
            status: None,
            code: None,
            excerpt: format!("not a valid path: {e}"),
            request_id: String::new(),
            details: None,
        })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }
}
