//! Running the binary from an async test (the simulator shares the test's
//! runtime, so the child is waited for off it), and a simulator to run against.

use std::path::Path;
use std::process::Output;

use tokportal_sync::sim::{self, DEMO_KEY, SimConfig, SimServer};

use crate::helpers::worker;

/// Runs `worker ARGS` in `dir` to its end, off the test's runtime.
pub async fn run(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
    let dir = dir.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        worker(&dir, &args, &env)
    })
    .await
    .unwrap()
}

/// A simulator with `bundles` bundles and no rate limit.
pub async fn sim(bundles: usize) -> SimServer {
    sim::start(SimConfig { bundles, rate_limit: false, ..SimConfig::default() })
        .await
        .expect("the simulator starts")
}

/// The environment of a command against `sim` and the database at `url`.
pub fn env(sim: &SimServer, url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", url.to_string()),
        ("TOKPORTAL_API_KEY", DEMO_KEY.to_string()),
        ("TOKPORTAL__API__BASE_URL", sim.base_url().to_string()),
    ]
}
