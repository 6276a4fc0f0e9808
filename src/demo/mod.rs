//! `worker demo`: the whole worker against an in-process simulator, with
//! nothing to set up. [`run`] is the full demo (database from [`postgres`],
//! a throwaway one from [`cluster`], mutations from [`mutations`], the
//! summary and sample queries from [`report`]); [`walk`] is `--walk-only`.

pub mod cluster;
pub mod mutations;
pub mod postgres;
pub mod report;
pub mod run;
pub mod walk;

use anyhow::Context;
use sqlx::PgPool;

use crate::api::Client;
use crate::mirror::{account, store};
use crate::sim::SimServer;

/// The way out of a refused database. An empty `DATABASE_URL` reads as unset,
/// and cargo keeps a variable that is set (`.cargo/config.toml` fills in only
/// a missing one), so the same hint works for the binary and under `cargo run`.
const SCRATCH: &str = "point DATABASE_URL at a scratch database, or set it empty to use a fresh \
    `tokportal_demo` (`DATABASE_URL= worker demo`; in a checkout `DATABASE_URL= cargo run --release -- demo`)";

/// Refuses a database that mirrors another account than the simulator's
/// demo key (the rule of every run that writes, `mirror::account`): the
/// demo's walks would otherwise mark that account's rows deleted. A
/// database filled before accounts were recorded is refused when it holds
/// bundles the simulator never had (other than those an earlier demo created).
pub async fn refuse_foreign_mirror(pool: &PgPool, server: &SimServer, client: &Client) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await.context("Failed to get a connection")?;
    if account::bound(&mut *conn).await?.is_none() {
        let foreign =
            store::count_live_bundles_except(&mut conn, &server.bundle_ids(), "worker-demo").await?;
        anyhow::ensure!(
            foreign == 0,
            "this database already mirrors {foreign} bundles of another account: the demo would mark them \
             deleted; {SCRATCH}"
        );
    }
    drop(conn);
    account::ensure(pool, client)
        .await
        .map(|_| ())
        .with_context(|| format!("the demo refuses this database: {SCRATCH}"))
}
