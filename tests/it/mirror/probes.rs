//! The page upsert's two plans (`store::Probe`): looking the ids up first,
//! or inserting first. Whichever a walk picks for a page, the same rows are
//! written, with the same bookkeeping, and counted alike.

use serde_json::{Value, json};
use sqlx::PgPool;
use tokportal_sync::mirror::rows::Upserted;
use tokportal_sync::mirror::store::{self, Probe};
use tokportal_sync::mirror::streams::BUNDLES;

fn bundle(id: &str, title: &str) -> Value {
    json!({"id": id, "status": "pending", "title": title, "created_at": "2026-11-28T10:00:00Z"})
}

/// Per row: its version (a row written over gets a new one), whether
/// `changed_at` and `last_seen_at` moved past `before`, deleted, missed walks.
async fn rows(
    pool: &PgPool,
    before: chrono::DateTime<chrono::Utc>,
) -> Vec<(String, String, bool, bool, bool, i32)> {
    sqlx::query_as(
        "SELECT id, ctid::text || '/' || xmin::text, changed_at > $1, last_seen_at > $1, deleted_at IS NOT NULL, \
         missing_walks FROM tokportal.bundles ORDER BY id",
    )
    .bind(before)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test]
async fn both_plans_write_the_same_rows_and_count_them_alike(pool: PgPool) {
    let mut seen = Vec::new();
    for probe in [Probe::Lookup, Probe::Insert] {
        sqlx::query("DELETE FROM tokportal.bundles").execute(&pool).await.unwrap();
        let mut conn = pool.acquire().await.unwrap();
        let held = ["a", "b", "c", "d"].map(|id| bundle(id, "old"));
        store::upsert_page(&mut conn, &BUNDLES, &held, Probe::Lookup).await.unwrap();
        // c was confirmed gone, d was missed by a complete walk.
        sqlx::query("UPDATE tokportal.bundles SET deleted_at = now() WHERE id = 'c'")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("UPDATE tokportal.bundles SET missing_walks = 1 WHERE id = 'd'")
            .execute(&pool)
            .await
            .unwrap();
        let before_rows = rows(&pool, chrono::Utc::now()).await;
        let before: chrono::DateTime<chrono::Utc> =
            sqlx::query_scalar("SELECT clock_timestamp()").fetch_one(&pool).await.unwrap();

        // a unchanged, b changed, c back unchanged, d seen again, e new.
        let page = [
            bundle("a", "old"),
            bundle("b", "new"),
            bundle("c", "old"),
            bundle("d", "old"),
            bundle("e", "new"),
        ];
        let mut tx = pool.begin().await.unwrap();
        let up = store::upsert_page(&mut tx, &BUNDLES, &page, probe).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(up, Upserted { inserted: 1, updated: 1, revived: 1, unchanged: 1 }, "{probe:?}");

        let after = rows(&pool, before).await;
        let flags: Vec<_> = after
            .iter()
            .map(|(id, _, changed, last, deleted, missed)| (id.as_str(), *changed, *last, *deleted, *missed))
            .collect();
        assert_eq!(
            flags,
            [
                ("a", false, false, false, 0),
                ("b", true, true, false, 0),
                ("c", false, true, false, 0),
                ("d", false, true, false, 0),
                ("e", true, true, false, 0),
            ],
            "{probe:?}"
        );
        // The unchanged row is not rewritten by either plan.
        assert_eq!(after[0].1, before_rows[0].1, "{probe:?}: a was rewritten");
        seen.push(up);
    }
    assert_eq!(seen[0], seen[1]);
}

#[test]
fn a_walk_inserts_first_while_most_of_the_last_page_was_new() {
    let up = |inserted, unchanged| Upserted { inserted, unchanged, ..Upserted::default() };
    assert_eq!(Probe::after(&up(100, 0)), Probe::Insert);
    assert_eq!(Probe::after(&up(51, 49)), Probe::Insert);
    assert_eq!(Probe::after(&up(50, 50)), Probe::Lookup);
    assert_eq!(Probe::after(&up(0, 100)), Probe::Lookup);
    assert_eq!(Probe::after(&Upserted::default()), Probe::Lookup);
}
