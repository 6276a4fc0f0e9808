//! The accept loop of the daemon's listeners: hyper with a timer, so a client
//! that sends half a header, or a body that never ends, is cut off after a
//! few seconds instead of holding its connection (and the stop) forever; and
//! a cap on open connections, past which new ones wait in the kernel's
//! backlog. axum's own `serve` runs hyper without a timer: no read timeout.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_service::Service;

/// How long a listener lets a client take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// To send a request's line and headers, from the connection's accept or
    /// the previous answer (so also how long an idle keep-alive connection stays).
    pub header: Duration,
    /// To send a request's body, from the end of its headers.
    pub body: Duration,
    /// Connections served at once.
    pub connections: usize,
}

/// A scrape, a probe and a webhook delivery are each one small request:
/// seconds are plenty, and a few hundred connections far more than
/// Prometheus, a kubelet and TokPortal's deliveries open.
impl Default for Limits {
    fn default() -> Self {
        Limits { header: Duration::from_secs(5), body: Duration::from_secs(10), connections: 256 }
    }
}

/// Serves `router` on `listener` until `cancel` fires, then stops accepting,
/// lets the requests in flight finish and returns once every connection is
/// closed (a stalled client is cut off by `limits` meanwhile).
pub async fn serve_with(listener: TcpListener, router: Router, cancel: CancellationToken, limits: Limits) {
    let permits = Arc::new(Semaphore::new(limits.connections));
    let connections = TaskTracker::new();
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = cancel.cancelled() => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = cancel.cancelled() => break,
        };
        let router = router.clone();
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let mut router = router.clone();
            async move { router.call(req.map(|body| Body::new(Timed::new(body, limits.body)))).await }
        });
        let cancel = cancel.clone();
        connections.spawn(async move {
            let _permit = permit;
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let done = tokio::select! {
                done = conn.as_mut() => done,
                () = cancel.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = done {
                tracing::debug!(error = %e, "a connection ended with an error");
            }
        });
    }
    connections.close();
    connections.wait().await;
}

/// A request body that fails once its deadline passes before its end.
struct Timed {
    inner: Incoming,
    deadline: Pin<Box<Sleep>>,
    limit: Duration,
}

impl Timed {
    fn new(inner: Incoming, limit: Duration) -> Timed {
        Timed { inner, deadline: Box::pin(tokio::time::sleep(limit)), limit }
    }
}

impl hyper::body::Body for Timed {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            let limit = this.limit.as_secs_f64();
            return Poll::Ready(Some(
                Err(format!("the request body did not arrive within {limit} s").into()),
            ));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
