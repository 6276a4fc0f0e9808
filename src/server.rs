//! The daemon's HTTP side on `server.listen`: `/metrics` (Prometheus text,
//! rendered by `metrics-exporter-prometheus`) and `/healthz` (200 only once
//! Postgres answers and every migration is applied). [`routes`] is the mount
//! point: the webhook receiver joins the same router ([`daemon_routes`]), or
//! is served alone on `server.webhook_listen` (the daemon wires that).
//! [`serve`] runs a router with read timeouts and a cap on connections
//! (`listen`).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

mod listen;

pub use listen::{Limits, serve_with};

use crate::api::Client;
use crate::jobs::queue;
use crate::{db, meter};

/// Longest a probe or a scrape waits for Postgres: a probe must answer
/// before the orchestrator's own timeout, so every probe in
/// `deploy/kubernetes` sets `timeoutSeconds` above it (readiness 3, liveness
/// 5; Kubernetes' default of 1 s would be shorter). `deploy/check` reads the
/// number from this line: keep it `from_secs(N)`.
const DB_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What the routes read: the pool, the recorder, and the API clients whose
/// counters are sampled at each scrape ("sync", "replay"), set once they
/// exist (after the migrations: their budget lives in Postgres).
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub metrics: PrometheusHandle,
    pub clients: Arc<OnceLock<Vec<(&'static str, Client)>>>,
}

/// `/metrics` and `/healthz`; merge further routes (webhooks) into it.
pub fn routes(state: AppState) -> Router {
    Router::new().route("/metrics", get(metrics)).route("/healthz", get(healthz)).with_state(state)
}

/// [`routes`] plus the webhook receiver (`POST /webhooks/tokportal`): what the daemon serves.
pub fn daemon_routes(state: AppState, receiver: crate::webhooks::Receiver) -> Router {
    routes(state).merge(crate::webhooks::receiver::routes(receiver))
}

async fn metrics(State(state): State<AppState>) -> String {
    let clients = state.clients.get().map(Vec::as_slice).unwrap_or_default();
    for (name, client) in clients {
        meter::api_counters(name, &client.counters());
    }
    let responses: Vec<Vec<(u16, u64)>> = clients.iter().map(|(_, c)| c.responses()).collect();
    meter::api_responses(responses.iter().map(Vec::as_slice));
    match tokio::time::timeout(DB_PROBE_TIMEOUT, queue::depth(&state.pool)).await {
        Ok(Ok((depth, oldest))) => meter::queue(depth, oldest),
        Ok(Err(e)) => tracing::debug!(error = %e, "queue gauges not refreshed"),
        Err(_) => tracing::debug!("queue gauges not refreshed: Postgres did not answer in time"),
    }
    state.metrics.render()
}

async fn healthz(State(state): State<AppState>) -> (StatusCode, String) {
    match tokio::time::timeout(DB_PROBE_TIMEOUT, db::ensure_ready(&state.pool)).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n".into()),
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e:#}\n")),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "not ready: Postgres did not answer in time\n".into()),
    }
}

/// Binds `addr`, the value of the setting `key`; the error names it.
pub async fn bind(addr: std::net::SocketAddr, key: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("Failed to listen on {addr} ({key}): {e}"))
}

/// Serves `router` until `cancel` fires, then lets open requests finish,
/// with the read timeouts and the connection cap of [`Limits::default`].
pub async fn serve(listener: TcpListener, router: Router, cancel: CancellationToken) -> anyhow::Result<()> {
    listen::serve_with(listener, router, cancel, Limits::default()).await;
    Ok(())
}
