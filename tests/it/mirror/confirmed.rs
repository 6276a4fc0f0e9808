//! The delete rule: a bundle is marked deleted only once the API said so,
//! never for having been missed by walks; rows missing beyond what a run may
//! check stay live, the longest missed checked first; every delete of a run
//! (child 404s too) counts toward the guard, which still lets a small
//! account lose a bundle; only a stream with no detail endpoint uses two walks.

use std::collections::BTreeSet;
use std::time::Duration;

use sqlx::PgPool;
use tokportal_sync::mirror::Status;
use tokportal_sync::sim::ListOrder;

use super::support::{assert_mirror_equals, live_bundles, mirror, settings, sim, sync, sync_all};

async fn deleted(pool: &PgPool) -> BTreeSet<String> {
    sqlx::query_scalar("SELECT id FROM tokportal.bundles WHERE deleted_at IS NOT NULL")
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

#[sqlx::test]
async fn walks_over_a_list_whose_page_edges_swap_never_mark_a_live_bundle_deleted(pool: PgPool) {
    let sim = sim(600).await;
    sim.update_faults(|f| f.order = ListOrder::EdgeSwaps).unwrap();
    let mut s = settings();
    // 150 page edges: about 75 live bundles missed by each walk, more than 50 checks.
    s.per_page = 4;
    let m = mirror(&pool, &sim, s.clone());
    sync(&m, "bundles").await;
    let mut unchecked = 0;
    for round in 0..4 {
        let run = sync(&m, "bundles").await;
        assert_eq!(run.status, Status::Succeeded, "round {round}: {:?}", run.error);
        assert_eq!(run.tally.deleted, 0, "round {round}: {:?}", run.note);
        assert!(deleted(&pool).await.is_empty(), "round {round}: live bundles were marked deleted");
        unchecked += run.tally.delete_unchecked;
        if run.tally.delete_unchecked > 0 {
            assert!(run.note.as_deref().is_some_and(|n| n.contains("were not checked")), "{:?}", run.note);
            let stored: i32 =
                sqlx::query_scalar("SELECT delete_unchecked FROM tokportal.sync_runs WHERE id = $1")
                    .bind(run.run_id)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            assert_eq!(stored as u64, run.tally.delete_unchecked);
        }
    }
    assert!(unchecked > 0, "the walks missed more rows than one run may check");
    // Calm again: one walk and the children make the mirror exact.
    sim.update_faults(|f| f.order = ListOrder::NewestFirst).unwrap();
    sync_all(&mirror(&pool, &sim, s)).await;
    assert_mirror_equals(&pool, &sim).await;
    sim.shutdown().await;
}

#[sqlx::test]
async fn rows_missing_beyond_the_checks_stay_live_and_the_longest_missed_are_checked_first(pool: PgPool) {
    let sim = sim(40).await;
    let mut s = settings();
    s.max_delete_checks = 2;
    let m = mirror(&pool, &sim, s);
    sync(&m, "bundles").await;
    let gone = sim.delete_bundles(&sim.bundle_ids()[..5]);
    let first = sync(&m, "bundles").await;
    assert_eq!((first.tally.delete_checks, first.tally.deleted, first.tally.delete_unchecked), (2, 2, 3));
    // The three left unchecked were missed twice now: checked before any row missed once.
    let waiting: Vec<String> =
        sqlx::query_scalar("SELECT id FROM tokportal.bundles WHERE deleted_at IS NULL AND missing_walks > 0")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(waiting.len(), 3);
    let second = sync(&m, "bundles").await;
    assert_eq!((second.tally.deleted, second.tally.delete_unchecked), (2, 1));
    let third = sync(&m, "bundles").await;
    assert_eq!((third.tally.deleted, third.tally.delete_unchecked), (1, 0));
    assert_eq!(deleted(&pool).await, gone.into_iter().collect());
    sim.shutdown().await;
}

#[sqlx::test]
async fn without_checks_a_bundle_missed_by_many_walks_stays_live(pool: PgPool) {
    let sim = sim(60).await;
    let mut s = settings();
    s.max_delete_checks = 0;
    let m = mirror(&pool, &sim, s);
    sync(&m, "bundles").await;
    sim.delete_bundles(&sim.bundle_ids()[20..25]);
    for _ in 0..3 {
        let run = sync(&m, "bundles").await;
        assert_eq!((run.tally.deleted, run.tally.delete_unchecked), (0, 5));
    }
    assert_eq!(live_bundles(&pool).await.len(), 60);
    assert_eq!(sync(&mirror(&pool, &sim, settings()), "bundles").await.tally.deleted, 5);
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_small_account_may_lose_its_one_bundle_of_four(pool: PgPool) {
    let sim = sim(4).await;
    let m = mirror(&pool, &sim, settings());
    sync(&m, "bundles").await;
    sim.delete_bundles(&sim.bundle_ids()[..1]);
    let run = sync(&m, "bundles").await;
    assert_eq!(run.tally.deleted, 1, "{:?}", run.note);
    assert_eq!(live_bundles(&pool).await.len(), 3);
    sim.shutdown().await;
}

/// Every bundle's children are due at once.
fn all_due() -> tokportal_sync::mirror::Settings {
    let mut s = settings();
    s.children_active_refresh = Duration::ZERO;
    s.children_full_refresh = Duration::ZERO;
    s
}

#[sqlx::test]
async fn child_404s_of_an_upstream_list_replaced_count_toward_the_delete_guard(pool: PgPool) {
    let sim = sim(30).await;
    let m = mirror(&pool, &sim, all_due());
    sync_all(&m).await;
    // The upstream list is reset: every bundle the mirror holds is gone, others came.
    sim.delete_bundles(&sim.bundle_ids());
    sim.insert_bundles(30);
    for stream in ["bundle_videos", "bundle_accounts", "bundles"] {
        let run = sync(&m, stream).await;
        assert_eq!(run.tally.deleted, 0, "{stream}: {:?}", run.note);
        assert!(run.note.as_deref().is_some_and(|n| n.contains("delete guard")), "{stream}: {:?}", run.note);
        assert!(run.tally.delete_refused > 0, "{stream}: the metrics count the rows kept live");
    }
    assert!(deleted(&pool).await.is_empty());
    // An operator who knows the account was reset lets one run through.
    let mut open = all_due();
    open.max_delete_fraction = 1.0;
    let run = sync(&mirror(&pool, &sim, open), "bundle_videos").await;
    assert!(run.tally.deleted > 0, "{:?}", run.note);
    let living: BTreeSet<String> = sim.bundle_ids().into_iter().collect();
    assert!(deleted(&pool).await.is_disjoint(&living), "only bundles that are gone were marked");
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_ledger_row_with_no_detail_endpoint_is_marked_deleted_once_two_complete_walks_missed_it(
    pool: PgPool,
) {
    let sim = sim(10).await;
    let mut s = settings();
    s.full_walk_every = Duration::ZERO;
    let m = mirror(&pool, &sim, s);
    sync(&m, "credit_transactions").await;
    sqlx::query(
        "INSERT INTO tokportal.credit_transactions (id, data, first_seen_at) \
         VALUES ('txn_gone', '{\"id\":\"txn_gone\"}', now() - interval '1 hour')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let first = sync(&m, "credit_transactions").await;
    assert_eq!((first.kind, first.tally.deleted, first.tally.delete_checks), ("full", 0, 0));
    assert!(first.note.is_some_and(|n| n.contains("1 rows missed")));
    let second = sync(&m, "credit_transactions").await;
    assert_eq!(second.tally.deleted, 1, "{:?}", second.note);
    sim.shutdown().await;
}
