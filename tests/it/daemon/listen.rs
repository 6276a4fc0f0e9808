//! The daemon's listener cuts off clients that stall: half a header or a body
//! that never ends closes the connection within seconds, never holds the
//! stop, and past the cap on connections new ones wait their turn. Time is
//! paused: the server's timers fire as soon as nothing else can happen.

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tokportal_sync::server::{self, Limits};

/// Longer than every limit of the listener: what a stalled client would wait without them.
const BOUND: Duration = Duration::from_secs(120);

/// Serves a `GET /` and a `POST /echo` with `server::serve`; returns the address,
/// the stop and the server's task.
async fn start() -> (std::net::SocketAddr, CancellationToken, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router =
        Router::new().route("/", get(|| async { "ok" })).route("/echo", post(|body: String| async { body }));
    let stop = CancellationToken::new();
    let task = tokio::spawn(server::serve(listener, router, stop.clone()));
    (addr, stop, task)
}

/// Reads until the server closes the connection; what it answered, if anything.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    tokio::time::timeout(BOUND, stream.read_to_end(&mut got))
        .await
        .expect("the server never closed the stalled connection")
        .ok();
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(start_paused = true)]
async fn a_half_sent_header_is_closed_within_seconds_and_does_not_hold_the_stop() {
    let (addr, stop, task) = start().await;
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Le").await.unwrap();
    let started = tokio::time::Instant::now();
    until_closed(&mut stalled).await;
    // Closed by the header timeout (time is paused: nothing else fires before
    // BOUND), not refused at once as a malformed request would be.
    let held = started.elapsed();
    assert!(held >= Limits::default().header - Duration::from_secs(1), "{held:?}");

    // A second stalled client does not keep the stopping server waiting.
    let mut other = TcpStream::connect(addr).await.unwrap();
    other.write_all(b"GET / HTTP/1.1\r\nHo").await.unwrap();
    tokio::task::yield_now().await;
    stop.cancel();
    tokio::time::timeout(BOUND, task).await.expect("the stop waited for a stalled client").unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_body_that_never_ends_is_cut_off() {
    let (addr, _stop, _task) = start().await;
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part")
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    let answer = until_closed(&mut stalled).await;
    assert!(!answer.contains("200 OK"), "{answer}");
    // Cut off by the body's deadline (time is paused), not refused at once.
    let held = started.elapsed();
    assert!(held >= Limits::default().body - Duration::from_secs(1), "{held:?}");
}

#[tokio::test(start_paused = true)]
async fn past_the_cap_a_connection_waits_until_one_closes() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new().route("/", get(|| async { "ok" }));
    let limits = Limits { connections: 2, ..Limits::default() };
    tokio::spawn(server::serve_with(listener, router, CancellationToken::new(), limits));
    let idle = [TcpStream::connect(addr).await.unwrap(), TcpStream::connect(addr).await.unwrap()];
    let mut third = TcpStream::connect(addr).await.unwrap();
    third.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let early = tokio::time::timeout(Duration::from_secs(1), third.read_to_end(&mut answer)).await;
    assert!(early.is_err(), "served past the cap: {}", String::from_utf8_lossy(&answer));
    // The two idle connections are closed by the header timeout; then the third is served.
    tokio::time::timeout(BOUND, third.read_to_end(&mut answer)).await.expect("never served").unwrap();
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    drop(idle);
}
