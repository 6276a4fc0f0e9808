//! The daemon's HTTP side on `server.listen`: `/metrics` (Prometheus text,
//! rendered by `metrics-exporter-prometheus`) and `/healthz` (200 only once
//! Postgres answers and every migration is applied). [`routes`] is the mount
//! point: the webhook receiver joins the same router ([`daemon_routes`]), or
//! is served alone on `server.webhook_listen` (the daemon wires that).
//! [`serve`] runs a router with read timeouts and a cap on connections
//! (`listen`).

use std::sync::Arc;
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

use crate::db;
use crate::meter::scrape::Sources;

/// Longest a probe waits for Postgres: a probe must answer
/// before the orchestrator's own timeout, so every probe in
/// `deploy/kubernetes` sets `timeoutSeconds` above it (readiness 3, liveness
/// 5; Kubernetes' default of 1 s would be shorter). `deploy/check` reads the
/// number from this line: keep it `from_secs(N)`.
const DB_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Longest a scrape waits for the gauges it reads from Postgres (the queue,
/// the key's block, the mirror's staleness: a scan of the live bundles each,
/// about 0.1 s per 100,000 bundles): below Prometheus' default
/// `scrape_timeout` of 10 s, so a slow database shows as
/// `tokportal_postgres_up 0` rather than a failed scrape.
const SCRAPE_DB_TIMEOUT: Duration = Duration::from_secs(5);

/// What the routes read: the pool, the recorder, and what each scrape
/// samples (the API clients' counters, gauges read from Postgres).
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub metrics: PrometheusHandle,
    pub sources: Arc<Sources>,
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
    state.sources.sample(SCRAPE_DB_TIMEOUT).await;
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
