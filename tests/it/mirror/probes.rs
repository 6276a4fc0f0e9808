//! The page upsert's plans (`store::Probe`): looking the ids up first,
//! inserting first, or inserting plainly (falling back to inserting first
//! when a row is held). Whichever a walk picks for a page, the same rows are
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
async fn every_plan_writes_the_same_rows_and_counts_them_alike(pool: PgPool) {
    let mut seen = Vec::new();
    // A plain insert finds a, b, c and d held: it falls back to inserting first.
    for probe in [Probe::Lookup, Probe::Insert, Probe::Fresh] {
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
    assert_eq!(seen[0], seen[2]);
}

#[sqlx::test]
async fn a_page_of_new_rows_inserted_plainly_is_written_and_counted_as_inserting_first_does(pool: PgPool) {
    let mut seen = Vec::new();
    for (probe, id) in [(Probe::Insert, "a"), (Probe::Fresh, "b")] {
        let mut tx = pool.begin().await.unwrap();
        let before: chrono::DateTime<chrono::Utc> =
            sqlx::query_scalar("SELECT clock_timestamp()").fetch_one(&mut *tx).await.unwrap();
        let page = [bundle(&format!("{id}1"), "new"), bundle(&format!("{id}2"), "new")];
        let up = store::upsert_page(&mut tx, &BUNDLES, &page, probe).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(up, Upserted { inserted: 2, ..Upserted::default() }, "{probe:?}");
        let written: Vec<(String, String, bool, bool, bool, i32)> = sqlx::query_as(
            "SELECT id, status, changed_at >= $1 AND first_seen_at >= $1 AND last_seen_at >= $1,              created_at = '2026-11-28T10:00:00Z', deleted_at IS NULL, missing_walks              FROM tokportal.bundles WHERE id LIKE $2 || '%' ORDER BY id",
        )
        .bind(before)
        .bind(id)
        .fetch_all(&pool)
        .await
        .unwrap();
        // The same rows but for the id's first letter.
        let shape: Vec<_> = written
            .into_iter()
            .map(|(id, s, times, created, live, missed)| {
                (id[1..].to_string(), s, times, created, live, missed)
            })
            .collect();
        seen.push(shape);
    }
    assert_eq!(seen[0].len(), 2);
    assert_eq!(seen[0], seen[1]);
}

#[test]
fn a_walk_inserts_plainly_while_the_last_page_was_new_and_first_while_most_of_it_was() {
    let up = |inserted, unchanged| Upserted { inserted, unchanged, ..Upserted::default() };
    assert_eq!(Probe::after(&up(100, 0)), Probe::Fresh, "every row new: a plain insert");
    assert_eq!(Probe::after(&up(99, 1)), Probe::Insert);
    assert_eq!(Probe::after(&up(51, 49)), Probe::Insert);
    assert_eq!(Probe::after(&up(50, 50)), Probe::Lookup);
    assert_eq!(Probe::after(&up(0, 100)), Probe::Lookup);
    assert_eq!(Probe::after(&Upserted::default()), Probe::Lookup);
}
