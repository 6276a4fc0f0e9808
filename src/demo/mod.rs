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

use sqlx::PgPool;

use crate::mirror::store;
use crate::sim::SimServer;

/// Refuses a database whose mirror holds bundles the simulator never had
/// (other than those an earlier demo created):
/// the demo's complete walk would mark them deleted. `DATABASE_URL` must name
/// a scratch database (or one an earlier demo filled).
pub async fn refuse_foreign_mirror(pool: &PgPool, server: &SimServer) -> anyhow::Result<()> {
    let ids = server.bundle_ids();
    let mut conn = pool.acquire().await?;
    let foreign = store::count_live_bundles_except(&mut conn, &ids, "worker-demo").await?;
    anyhow::ensure!(
        foreign == 0,
        "this database already mirrors {foreign} bundles the simulator does not have: the demo would mark \
         them deleted. Point DATABASE_URL at a scratch database, or unset it to use a fresh `tokportal_demo`"
    );
    Ok(())
}
