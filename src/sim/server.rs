//! The HTTP server: our own accept loop over hyper, so a handler can close its
//! connection without answering (the drop fault). The handle it returns is
//! [`SimServer`] (in [`super::handle`]).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::middleware;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_service::Service;

use super::config::SimConfig;
use super::error::ApiError;
use super::extensions::ConnKill;
pub use super::handle::SimServer;
use super::state::Shared;
use super::{admin, gate, handlers, webhooks};

/// Starts a simulator on `config.bind` (loopback, ephemeral port by default).
pub async fn start(config: SimConfig) -> anyhow::Result<SimServer> {
    config.validate().context("Invalid simulator configuration")?;
    let listener = TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("Failed to bind the simulator to {}", config.bind))?;
    let addr = listener.local_addr().context("Failed to read the simulator's address")?;
    let shared = Arc::new(Shared::new(config));
    let router = routes(Arc::clone(&shared));
    shared.tracker.spawn(accept_loop(listener, router, Arc::clone(&shared)));
    shared.tracker.spawn(webhooks::deliver::run(Arc::clone(&shared)));
    Ok(SimServer::new(addr, shared))
}

fn routes(shared: Arc<Shared>) -> Router {
    let api = handlers::router().layer(middleware::from_fn_with_state(Arc::clone(&shared), gate::gate));
    Router::new()
        .nest("/api/ext", api)
        .nest("/__sim", admin::router())
        .fallback(|| async { ApiError::not_found() })
        .with_state(shared)
}

async fn accept_loop(listener: TcpListener, router: Router, shared: Arc<Shared>) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "simulator accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shared.shutdown.cancelled() => return,
        };
        let _ = stream.set_nodelay(true);
        let kill = CancellationToken::new();
        let conn_kill = ConnKill(kill.clone());
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(conn_kill.clone());
            let mut router = router.clone();
            async move { router.call(req.map(Body::new)).await }
        });
        let shutdown = shared.shutdown.clone();
        shared.tracker.spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                () = kill.cancelled() => {}
                () = shutdown.cancelled() => {}
            }
        });
    }
}
