//! Inserts, deletes and changes while the walk runs, over orders that
//! shuffle or place new bundles anywhere: no bundle that exists is ever
//! marked deleted, and once the account holds still the mirror converges
//! within two runs.

use std::collections::BTreeSet;

use sqlx::PgPool;
use tokportal_sync::mirror::Status;
use tokportal_sync::sim::{DriftKind, ListOrder};

use super::support::{assert_mirror_equals, live_bundles, mirror, settings, sim, sync, sync_all};

async fn deleted(pool: &PgPool) -> BTreeSet<String> {
    sqlx::query_scalar("SELECT id FROM tokportal.bundles WHERE deleted_at IS NOT NULL")
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

async fn drifting_walks_never_delete_a_living_bundle(pool: PgPool, order: ListOrder) {
    let sim = sim(300).await;
    // Bulk creations: groups of bundles sharing one created_at, which an
    // unstable order shuffles on every request.
    sim.insert_bundles_same_created_at(50);
    sim.insert_bundles_same_created_at(50);
    sim.update_faults(|f| f.order = order).unwrap();
    let m = mirror(&pool, &sim, settings());
    sync(&m, "bundles").await;
    sim.update_faults(|f| {
        f.drift_every = 2;
        f.drift_kind = DriftKind::Mixed;
    })
    .unwrap();
    for round in 0..4 {
        let run = sync(&m, "bundles").await;
        assert_eq!(run.status, Status::Succeeded, "{order:?} round {round}: {:?}", run.error);
        let living: BTreeSet<String> = sim.bundle_ids().into_iter().collect();
        let wrong: Vec<_> = deleted(&pool).await.intersection(&living).cloned().collect();
        assert!(
            wrong.is_empty(),
            "{order:?} round {round}: bundles that exist were marked deleted: {wrong:?}"
        );
    }
    assert!(sim.stats().faults_fired.drifted > 10, "the account changed under the walks");
    sim.update_faults(|f| f.drift_every = 0).unwrap();
    sync_all(&m).await;
    sync_all(&m).await;
    assert_eq!(live_bundles(&pool).await.len(), sim.bundle_ids().len());
    assert_mirror_equals(&pool, &sim).await;
    sim.shutdown().await;
}

#[sqlx::test]
async fn under_an_unstable_created_at_order_and_drift_no_living_bundle_is_deleted_and_two_runs_converge(
    pool: PgPool,
) {
    drifting_walks_never_delete_a_living_bundle(pool, ListOrder::CreatedAtUnstable).await;
}

#[sqlx::test]
async fn under_an_id_order_and_drift_no_living_bundle_is_deleted_and_two_runs_converge(pool: PgPool) {
    drifting_walks_never_delete_a_living_bundle(pool, ListOrder::Id).await;
}
