//! An answer larger than `api.max_response_bytes` is an error naming the
//! request, read no further than the cap; one within it is read as usual.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::routing::get;
use hyper::body::Frame;
use tokportal_sync::api::ApiError;

use super::support::{budget_options, client, scripted};

const CAP: usize = 64 * 1024;

/// `{"data":[]}` then `chunks` chunks of 16 KiB of spaces: valid JSON of any
/// length, sent chunked (no Content-Length), as a server streaming a huge list would.
struct Padded {
    chunks: usize,
    started: bool,
}

impl hyper::body::Body for Padded {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if !self.started {
            self.started = true;
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(br#"{"data":[]}"#)))));
        }
        if self.chunks == 0 {
            return Poll::Ready(None);
        }
        self.chunks -= 1;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b' '; 16 * 1024])))))
    }
}

/// A client capped at [`CAP`] against a server answering `/sized/{n}` with a
/// JSON body of `n` bytes (Content-Length set) and `/chunked/{n}` with `n` chunks.
async fn capped() -> tokportal_sync::api::Client {
    let app = axum::Router::new()
        .route(
            "/sized/{n}",
            get(|axum::extract::Path(n): axum::extract::Path<usize>| async move {
                let mut body = br#"{"data":[]}"#.to_vec();
                body.resize(n, b' ');
                body
            }),
        )
        .route(
            "/chunked/{n}",
            get(|axum::extract::Path(chunks): axum::extract::Path<usize>| async move {
                Body::new(Padded { chunks, started: false })
            }),
        );
    let (mut options, _server) = scripted(app).await;
    options.max_response_bytes = CAP;
    client(options, budget_options(1000.0, 1000))
}

fn assert_refused(answer: Result<tokportal_sync::api::ApiResponse, ApiError>, request: &str) {
    match answer {
        Err(e @ ApiError::Fatal { .. }) => {
            let text = e.to_string();
            assert!(text.starts_with(request), "{text}");
            assert!(text.contains("larger than api.max_response_bytes (65536 bytes)"), "{text}");
        }
        other => panic!("{request}: expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn an_answer_announced_larger_than_the_cap_is_refused_naming_the_request() {
    let client = capped().await;
    assert_refused(client.get("sized/4194304", &[]).await, "GET /sized/4194304");
    assert!(client.get(&format!("sized/{CAP}"), &[]).await.is_ok(), "an answer of exactly the cap is read");
}

#[tokio::test]
async fn a_chunked_answer_growing_past_the_cap_is_refused_naming_the_request() {
    let client = capped().await;
    // 256 chunks of 16 KiB: 4 MiB, far past the cap.
    assert_refused(client.get("chunked/256", &[]).await, "GET /chunked/256");
    assert!(client.get("chunked/2", &[]).await.is_ok(), "32 KiB is within the cap");
}
