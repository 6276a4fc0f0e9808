//! The seen set as a walk consults it: a page looks up in Postgres only the
//! ids its walk may have recorded (a filter in memory says which), and an
//! item a page committed long before is still known when the list pushes
//! it onto a later page.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::PgPool;
use tokportal_sync::mirror::Status;

use super::support::{live_bundles, proxied, sim, sync};

#[sqlx::test]
async fn items_a_page_committed_long_before_are_not_delivered_again_when_the_list_pushes_them_onto_a_later_page(
    pool: PgPool,
) {
    let sim = Arc::new(sim(300).await);
    let pushed = Arc::new(AtomicBool::new(false));
    let (db, list, once) = (pool.clone(), sim.clone(), pushed.clone());
    // Page 9 (of 25 items) is answered once page 8 committed, after 60
    // bundles were created at the head: it then holds items of pages 6 and 7,
    // committed and no longer in flight, which only the seen set knows.
    let m = proxied(&pool, &sim, move |query: String| {
        let (db, list, once) = (db.clone(), list.clone(), once.clone());
        async move {
            if query.split('&').any(|p| p == "page=9") && !once.swap(true, Ordering::SeqCst) {
                super::support::until_committed(&db, 8).await;
                list.insert_bundles(60);
            }
            None
        }
    })
    .await;

    let run = sync(&m, "bundles").await;
    assert_eq!(run.status, Status::Succeeded, "{:?}", run.error);
    assert!(pushed.load(Ordering::SeqCst), "page 9 was asked for");
    assert_eq!(
        (run.tally.items, run.tally.inserted),
        (300, 300),
        "each bundle that existed for the whole walk delivered once, the 60 created at the head not at all"
    );
    assert_eq!(live_bundles(&pool).await.len(), 300);
}
