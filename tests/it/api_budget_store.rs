//! The request budget shared through Postgres: the same arithmetic as the
//! in-memory store, booked by one statement that concurrent processes cannot
//! double-book.

use std::time::Instant;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokportal_sync::api::BudgetStore;
use tokportal_sync::api::gcra::{Correction, Rule};
use tokportal_sync::db::budgets::PgBudgetStore;

use crate::helpers::database_url;

#[sqlx::test]
async fn the_postgres_budget_lets_the_burst_through_then_books_one_interval_apart(pool: PgPool) {
    let store = PgBudgetStore::new(pool).await.unwrap();
    // Ten seconds an interval: the bookings' own duration, even on a loaded
    // machine, is small next to it, and nothing here sleeps.
    let rule = Rule::new(0.1, 3);
    let mut waits = Vec::new();
    for _ in 0..5 {
        waits.push(store.reserve("fp", rule, 60.0, 1).await.unwrap().wait);
    }
    assert!(waits[..3].iter().all(|w| *w == 0.0), "{waits:?}");
    // Waits shrink only by the time the bookings themselves took.
    assert!(near(waits[3], 10.0) && near(waits[4], 20.0), "{waits:?}");
}

/// `wait` is `expected` less the little time that passed since it was set.
fn near(wait: f64, expected: f64) -> bool {
    wait <= expected + 1e-6 && wait > expected - 2.0
}

#[sqlx::test]
async fn a_reservation_beyond_the_limit_is_refused_and_books_nothing(pool: PgPool) {
    let store = PgBudgetStore::new(pool).await.unwrap();
    let rule = Rule::new(1.0, 1);
    store.reserve("fp", rule, 0.0, 1).await.unwrap();
    let refused = store.reserve("fp", rule, 0.5, 1).await.unwrap();
    assert!(!refused.granted && refused.wait > 0.5);
    let again = store.reserve("fp", rule, 60.0, 1).await.unwrap();
    assert!(again.granted && again.wait <= 1.0, "{again:?}");
}

#[sqlx::test]
async fn a_block_and_a_correction_delay_the_next_booking(pool: PgPool) {
    let store = PgBudgetStore::new(pool).await.unwrap();
    let rule = Rule::new(10.0, 10);
    store.reserve("fp", rule, 60.0, 1).await.unwrap();
    store.correct("fp", Correction { tat_at_least: None, block_for: Some(3.0) }).await.unwrap();
    let r = store.reserve("fp", rule, 60.0, 1).await.unwrap();
    assert!(near(r.wait, 3.0), "{r:?}");
    store.correct("fp", Correction { tat_at_least: Some(20.0), block_for: None }).await.unwrap();
    // Booked 20 s ahead with 0.9 s of tolerance.
    let r = store.reserve("fp", rule, 60.0, 1).await.unwrap();
    assert!(near(r.wait, 19.1), "{r:?}");
    // Corrections never move the bucket back.
    store.correct("fp", Correction { tat_at_least: Some(0.0), block_for: Some(0.0) }).await.unwrap();
    assert!(store.reserve("fp", rule, 60.0, 1).await.unwrap().wait > 19.0);
}

#[sqlx::test]
async fn two_pools_booking_at_once_never_share_a_slot(pool: PgPool) {
    let url = database_url(&pool).await;
    let other = PgPoolOptions::new().max_connections(5).connect(&url).await.unwrap();
    // A bucket booked far ahead: every booking then moves `tat` by exactly one
    // interval, so a lost update (two bookings of one slot) would leave it short.
    sqlx::query("INSERT INTO tokportal.api_budgets (key_fingerprint, tat) VALUES ('fp', clock_timestamp() + interval '100 seconds')")
        .execute(&pool)
        .await
        .unwrap();
    let tat = || async {
        sqlx::query_scalar::<_, f64>(
            "SELECT extract(epoch FROM tat)::float8 FROM tokportal.api_budgets WHERE key_fingerprint = 'fp'",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let before = tat().await;
    let (a, b) = (PgBudgetStore::new(pool.clone()).await.unwrap(), PgBudgetStore::new(other).await.unwrap());
    let rule = Rule::new(10.0, 5);
    let (sa, sb) = tokio::join!(book(&a, rule, 20), book(&b, rule, 20));
    assert!(sa.iter().chain(&sb).all(|granted| *granted), "every booking fits in the limit");
    let moved = tat().await - before;
    assert!((moved - 40.0 * rule.interval).abs() < 1e-3, "40 bookings moved tat by {moved} s, not 4 s");
}

#[sqlx::test]
async fn a_batch_is_booked_whole_only_when_every_send_of_it_may_go_now(pool: PgPool) {
    let store = PgBudgetStore::new(pool).await.unwrap();
    // Ten seconds an interval, a bucket of nine.
    let rule = Rule::new(0.1, 9);
    let batch = store.reserve("fp", rule, 60.0, 8).await.unwrap();
    assert_eq!((batch.wait, batch.slots), (0.0, 8));
    assert!(near(batch.booked_ahead, 80.0), "{batch:?}");
    // One token left: a batch does not fit, one send is booked, as alone.
    let single = store.reserve("fp", rule, 60.0, 8).await.unwrap();
    assert_eq!((single.wait, single.slots), (0.0, 1));
    // None left: one send, paced, however many were asked for.
    let paced = store.reserve("fp", rule, 60.0, 8).await.unwrap();
    assert!(paced.slots == 1 && near(paced.wait, 10.0), "{paced:?}");
}

#[sqlx::test]
async fn two_pools_booking_batches_at_once_never_share_a_slot(pool: PgPool) {
    let url = database_url(&pool).await;
    let other = PgPoolOptions::new().max_connections(5).connect(&url).await.unwrap();
    // Booked 100 s ahead, in a bucket of 500 s: every batch fits now and moves
    // `tat` by exactly its sends, so a lost update would leave it short.
    sqlx::query("INSERT INTO tokportal.api_budgets (key_fingerprint, tat) VALUES ('fp', clock_timestamp() + interval '100 seconds')")
        .execute(&pool)
        .await
        .unwrap();
    let tat = || async {
        sqlx::query_scalar::<_, f64>(
            "SELECT extract(epoch FROM tat)::float8 FROM tokportal.api_budgets WHERE key_fingerprint = 'fp'",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let before = tat().await;
    let (a, b) = (PgBudgetStore::new(pool.clone()).await.unwrap(), PgBudgetStore::new(other).await.unwrap());
    let rule = Rule::new(10.0, 5000);
    let (sa, sb) = tokio::join!(book_batches(&a, rule, 20), book_batches(&b, rule, 20));
    assert_eq!(sa + sb, 160, "every batch was booked whole");
    let moved = tat().await - before;
    assert!((moved - 160.0 * rule.interval).abs() < 1e-3, "160 sends moved tat by {moved} s, not 16 s");
}

#[sqlx::test]
async fn a_booking_waits_for_another_sessions_lock_and_then_reads_its_committed_tat(pool: PgPool) {
    let store = PgBudgetStore::new(pool.clone()).await.unwrap();
    sqlx::query("INSERT INTO tokportal.api_budgets (key_fingerprint) VALUES ('fp')")
        .execute(&pool)
        .await
        .unwrap();
    // Another session books the key 100 s ahead and holds the row, uncommitted.
    let mut other = pool.begin().await.unwrap();
    sqlx::query(
        "UPDATE tokportal.api_budgets SET tat = clock_timestamp() + interval '100 seconds' WHERE key_fingerprint = 'fp'",
    )
    .execute(&mut *other)
    .await
    .unwrap();
    let rule = Rule::new(10.0, 5);
    let booking = tokio::spawn(async move { store.reserve("fp", rule, 1000.0, 1).await });
    // Commit only once the booking is seen queued behind the lock, so the
    // test does not depend on which of the two reaches the row first.
    wait_until_a_session_waits_for_a_lock(&pool).await;
    other.commit().await.unwrap();
    let booked = booking.await.unwrap().unwrap();
    // The committed tat, 100 s ahead, less the bucket's 0.4 s of tolerance.
    // Reading the row as it was before the commit would give a wait of 0.
    assert!(booked.granted && near(booked.wait, 99.6), "{booked:?}");
}

/// Polls `pg_stat_activity` (every 10 ms, for at most 10 s) until a session
/// of this test's database is blocked on a lock.
async fn wait_until_a_session_waits_for_a_lock(pool: &PgPool) {
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%api_budgets%'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        assert!(Instant::now() < deadline, "no session waited for the key's row lock within 10 s");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Books `n` batches of 4 sends; returns the sends booked.
async fn book_batches(store: &PgBudgetStore, rule: Rule, n: usize) -> u32 {
    let mut slots = 0;
    for _ in 0..n {
        slots += store.reserve("fp", rule, 0.0, 4).await.unwrap().slots;
    }
    slots
}

/// Books `n` requests concurrently with the other pool; returns whether each was granted.
async fn book(store: &PgBudgetStore, rule: Rule, n: usize) -> Vec<bool> {
    let mut granted = Vec::new();
    for _ in 0..n {
        granted.push(store.reserve("fp", rule, 1000.0, 1).await.unwrap().granted);
    }
    granted
}

#[sqlx::test(migrations = false)]
async fn a_database_without_the_budget_table_is_a_clear_error(pool: PgPool) {
    let err = PgBudgetStore::new(pool).await.err().unwrap();
    assert!(err.to_string().contains("worker migrate"), "{err}");
}

#[sqlx::test]
async fn a_session_holding_the_keys_row_makes_a_request_fail_instead_of_waiting_forever(pool: PgPool) {
    use std::sync::Arc;
    use std::time::Duration;
    use tokportal_sync::api::{ApiError, Budget, BudgetOptions};

    let store = Arc::new(PgBudgetStore::new(pool.clone()).await.unwrap());
    let options = BudgetOptions {
        rate_per_second: 10.0,
        burst: 10,
        reserved_share: 0.0,
        max_wait: Duration::from_secs(30),
    };
    let budget = Budget::new(store, "fp".into(), options).with_store_timeout(Duration::from_millis(300));
    budget.acquire("GET /x", budget.max_wait()).await.unwrap();
    // Another session locks the key's row and keeps it.
    let mut holder = pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM tokportal.api_budgets WHERE key_fingerprint = 'fp' FOR UPDATE")
        .execute(&mut *holder)
        .await
        .unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(10), budget.acquire("GET /x", budget.max_wait()))
        .await
        .expect("the booking must not wait for the lock forever");
    match outcome {
        Err(e @ ApiError::Budget { .. }) => assert!(e.to_string().contains("did not answer"), "{e}"),
        other => panic!("expected a budget error, got {other:?}"),
    }
    // A correction (best effort) gives up as well.
    tokio::time::timeout(Duration::from_secs(10), budget.block(Duration::from_secs(1)))
        .await
        .expect("a correction must not wait for the lock forever");
    holder.rollback().await.unwrap();
}
