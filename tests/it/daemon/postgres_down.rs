//! The daemon started before Postgres: it serves `/healthz` with 503 and
//! says once what it waits for, then turns ready and does its work once
//! Postgres answers (here: once a port that refused connections starts
//! forwarding to the test's database).

use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokio::net::{TcpListener, TcpStream};

use super::once::{enqueue, sim};
use super::support::{Worker, config, env, until};
use crate::helpers::database_url;

/// A free port on loopback: nothing listens there once this returns.
async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// Forwards every connection to `port` to the database server of `url`.
async fn forward(port: u16, url: &str) -> tokio::task::JoinHandle<()> {
    let target = url::Url::parse(url).unwrap();
    let to = format!("{}:{}", target.host_str().unwrap(), target.port().unwrap_or(5432));
    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("the freed port is still free");
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let to = to.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(&to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    })
}

async fn healthz(base: &str) -> u16 {
    reqwest::get(format!("{base}/healthz")).await.expect("the daemon answers").status().as_u16()
}

#[sqlx::test]
async fn a_daemon_started_before_postgres_answers_503_then_turns_ready_and_works(pool: PgPool) {
    let sim = sim(10).await;
    let real = database_url(&pool).await;
    let port = free_port().await;
    let mut down = url::Url::parse(&real).unwrap();
    down.set_port(Some(port)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &["bundles"], "0 0 0 1 1 *");
    let env = env(down.as_str(), sim.base_url().as_str(), "1000");
    let mut daemon = Worker::spawn(dir.path(), &[], &env);
    let base = daemon.http_base().await;
    daemon.line("waiting for Postgres", Duration::from_secs(30)).await;
    assert_eq!(healthz(&base).await, 503);
    let said = reqwest::get(format!("{base}/healthz")).await.unwrap().text().await.unwrap();
    assert!(said.contains("connection refused"), "the cause, as the log says it: {said}");
    assert!(daemon.is_running(), "{}", daemon.log());
    let log = daemon.log();
    assert!(log.contains("connection refused"), "the cause, at once: {log}");
    assert!(!log.contains("pool timed out"), "{log}");

    let proxy = forward(port, &real).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while healthz(&base).await != 200 {
        assert!(Instant::now() < deadline, "/healthz never turned ready:\n{}", daemon.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(daemon.log().matches("waiting for Postgres").count(), 1, "said once");
    enqueue(&pool).await;
    until(
        &pool,
        "SELECT count(*) FROM tokportal.mutation_jobs WHERE status = 'succeeded'",
        Duration::from_secs(30),
        |n| n == 1,
    )
    .await;
    daemon.sigterm();
    assert_eq!(daemon.exit_within(Duration::from_secs(15)).await.code(), Some(0), "{}", daemon.log());
    proxy.abort();
    sim.shutdown().await;
}
