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

/// A probe interval no block reaches: these tests wait blocks out.
const NEVER: f64 = f64::INFINITY;

#[sqlx::test]
async fn the_postgres_budget_lets_the_burst_through_then_books_one_interval_apart(pool: PgPool) {
    let store = PgBudgetStore::new(pool).await.unwrap();
    // Ten seconds an interval: the bookings' own duration, even on a loaded
    // machine, is small next to it, and nothing here sleeps.
    let rule = Rule::new(0.1, 3);
    let mut waits = Vec::new();
    for _ in 0..5 {
        waits.push(store.reserve("fp", rule, 60.0, 1, NEVER).await.unwrap().wait);
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
    store.reserve("fp", rule, 0.0, 1, NEVER).await.unwrap();
    let refused = store.reserve("fp", rule, 0.5, 1, NEVER).await.unwrap();
    assert!(!refused.granted && refused.wait > 0.5);
    let again = store.reserve("fp", rule, 60.0, 1, NEVER).await.unwrap();
    assert!(again.granted && again.wait <= 1.0, "{again:?}");
}

#[sqlx::test]
async fn a_block_and_a_correction_delay_the_next_booking(pool: PgPool) {
    let store = PgBudgetStore::new(pool).await.unwrap();
    let rule = Rule::new(10.0, 10);
    store.reserve("fp", rule, 60.0, 1, NEVER).await.unwrap();
    store
        .correct("fp", Correction { tat_at_least: None, block_for: Some(3.0), probe_in: None })
        .await
        .unwrap();
    let r = store.reserve("fp", rule, 60.0, 1, NEVER).await.unwrap();
    assert!(near(r.wait, 3.0), "{r:?}");
    store
        .correct("fp", Correction { tat_at_least: Some(20.0), block_for: None, probe_in: None })
        .await
        .unwrap();
    // Booked 20 s ahead with 0.9 s of tolerance.
    let r = store.reserve("fp", rule, 60.0, 1, NEVER).await.unwrap();
    assert!(near(r.wait, 19.1), "{r:?}");
    // Corrections never move the bucket back.
    store
        .correct("fp", Correction { tat_at_least: Some(0.0), block_for: Some(0.0), probe_in: None })
        .await
        .unwrap();
    assert!(store.reserve("fp", rule, 60.0, 1, NEVER).await.unwrap().wait > 19.0);
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
    let batch = store.reserve("fp", rule, 60.0, 8, NEVER).await.unwrap();
    assert_eq!((batch.wait, batch.slots), (0.0, 8));
    assert!(near(batch.booked_ahead, 80.0), "{batch:?}");
    // One token left: a batch does not fit, one send is booked, as alone.
    let single = store.reserve("fp", rule, 60.0, 8, NEVER).await.unwrap();
    assert_eq!((single.wait, single.slots), (0.0, 1));
    // None left: one send, paced, however many were asked for.
    let paced = store.reserve("fp", rule, 60.0, 8, NEVER).await.unwrap();
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
    let booking = tokio::spawn(async move { store.reserve("fp", rule, 1000.0, 1, NEVER).await });
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
        slots += store.reserve("fp", rule, 0.0, 4, NEVER).await.unwrap().slots;
    }
    slots
}

/// Books `n` requests concurrently with the other pool; returns whether each was granted.
async fn book(store: &PgBudgetStore, rule: Rule, n: usize) -> Vec<bool> {
    let mut granted = Vec::new();
    for _ in 0..n {
        granted.push(store.reserve("fp", rule, 1000.0, 1, NEVER).await.unwrap().granted);
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

#[sqlx::test]
async fn a_due_probe_goes_to_exactly_one_of_many_bookings_from_two_pools(pool: PgPool) {
    let url = database_url(&pool).await;
    let other = PgPoolOptions::new().max_connections(5).connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO tokportal.api_budgets (key_fingerprint, blocked_until, probe_at)
         VALUES ('fp', clock_timestamp() + interval '600 seconds', clock_timestamp())",
    )
    .execute(&pool)
    .await
    .unwrap();
    let (a, b) = (
        std::sync::Arc::new(PgBudgetStore::new(pool.clone()).await.unwrap()),
        std::sync::Arc::new(PgBudgetStore::new(other).await.unwrap()),
    );
    let rule = Rule::new(2.0, 120);
    let ask = |store: &std::sync::Arc<PgBudgetStore>| {
        let store = store.clone();
        tokio::spawn(async move { store.reserve("fp", rule, 600.0, 8, 60.0).await.unwrap() })
    };
    let asked: Vec<_> = (0..10).flat_map(|_| [ask(&a), ask(&b)]).collect();
    let mut probes = 0;
    for r in asked {
        let r = r.await.unwrap();
        if r.probe {
            probes += 1;
            assert!(r.granted && r.wait == 0.0 && r.slots == 1, "{r:?}");
        } else {
            // The others book nothing and come back for the probe's answer.
            assert!(r.recheck && r.slots == 0 && r.wait > 0.0 && r.wait <= 1.0, "{r:?}");
        }
    }
    assert_eq!(probes, 1, "one probe between twenty bookings of two pools");
    let (probe_in, booked): (f64, f64) = sqlx::query_as(
        "SELECT extract(epoch FROM probe_at - clock_timestamp())::float8,
                extract(epoch FROM tat - clock_timestamp())::float8
         FROM tokportal.api_budgets WHERE key_fingerprint = 'fp'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(near(probe_in, 60.0), "the next probe one interval on: {probe_in}");
    assert!(booked <= 0.5, "only the probe was booked: {booked}");
}

/// Two budgets (two processes) on two pools, probing a 600 s block every
/// 500 ms of the database's clock, against a server that refuses the first
/// three probes and serves the fourth. Ends when every request is served.
#[sqlx::test]
async fn two_budgets_sharing_the_store_send_one_probe_per_interval_between_them(pool: PgPool) {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    use tokportal_sync::api::{Budget, BudgetOptions};

    const EVERY: Duration = Duration::from_millis(500);
    let url = database_url(&pool).await;
    let other = PgPoolOptions::new().max_connections(5).connect(&url).await.unwrap();
    let options = BudgetOptions {
        rate_per_second: 20.0,
        burst: 120,
        reserved_share: 0.0,
        max_wait: Duration::from_secs(900),
    };
    let budget = |pool: PgPool| async move {
        let store = Arc::new(PgBudgetStore::new(pool).await.unwrap());
        Arc::new(Budget::new(store, "fp".into(), options).with_probe_interval(EVERY))
    };
    let (a, b) = (budget(pool.clone()).await, budget(other).await);
    // The key's row exists once it has sent; the 429 then blocks it.
    sqlx::query("INSERT INTO tokportal.api_budgets (key_fingerprint) VALUES ('fp')")
        .execute(&pool)
        .await
        .unwrap();
    a.block(Duration::from_secs(600)).await;
    let blocked_at = Instant::now();
    // (sent at, probe) of every request the server saw, and the probes it refused.
    let sends = Arc::new(Mutex::new(Vec::<(Instant, bool)>::new()));
    let refused = Arc::new(AtomicU32::new(0));
    let request = |b: &Arc<Budget>| {
        let (b, sends, refused) = (b.clone(), sends.clone(), refused.clone());
        tokio::spawn(async move {
            loop {
                let permit = b.acquire("GET /x", b.max_wait()).await.unwrap();
                sends.lock().unwrap().push((permit.sent_at.into_std(), permit.probe));
                if permit.probe && refused.fetch_add(1, Ordering::SeqCst) < 3 {
                    b.block(Duration::from_secs(600)).await;
                    continue;
                }
                if permit.probe {
                    b.lift().await;
                }
                return;
            }
        })
    };
    let tasks: Vec<_> = (0..3).flat_map(|_| [request(&a), request(&b)]).collect();
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(30), t)
            .await
            .expect("served once the block is lifted")
            .unwrap();
    }
    let mut sends = sends.lock().unwrap().clone();
    sends.sort_by_key(|(at, _)| *at);
    let probes: Vec<Instant> = sends.iter().filter(|(_, probe)| *probe).map(|(at, _)| *at).collect();
    assert_eq!(probes.len(), 4, "three refused, the fourth served: {sends:?}");
    // The store's clock spaces them; ours sees its round trips' jitter on top.
    assert!(probes[0] - blocked_at >= EVERY - Duration::from_millis(50), "{:?}", probes[0] - blocked_at);
    for pair in probes.windows(2) {
        assert!(
            pair[1] - pair[0] >= EVERY - Duration::from_millis(50),
            "probes {:?} apart",
            pair[1] - pair[0]
        );
    }
    assert!(
        sends.iter().all(|(at, probe)| *probe || *at > probes[3]),
        "nothing but probes went out before the block was lifted"
    );
    assert_eq!(sends.len(), 4 + 5);
}
