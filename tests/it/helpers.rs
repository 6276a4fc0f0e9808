//! Shared test plumbing: run the `worker` binary in a clean environment, and
//! build a connection URL for a `#[sqlx::test]` database.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};

use sqlx::PgPool;

/// Runs `worker ARGS` in `dir` with only `PATH` and the given variables set,
/// so neither the developer's environment nor a stray config file leaks in.
pub fn worker(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_worker"));
    cmd.args(args).current_dir(dir).env_clear();
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("the worker binary runs")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An environment map for `Config::load_from`.
pub fn env(vars: &[(&str, &str)]) -> HashMap<String, String> {
    vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The URL of the database behind `pool` (a `#[sqlx::test]` database), built
/// from `DATABASE_URL` with the database name swapped.
pub async fn database_url(pool: &PgPool) -> String {
    let name: String =
        sqlx::query_scalar("SELECT current_database()").fetch_one(pool).await.expect("current_database()");
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL is set for the tests");
    let mut url = url::Url::parse(&base).expect("DATABASE_URL is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}
