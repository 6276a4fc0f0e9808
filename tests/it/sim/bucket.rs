//! Token-bucket arithmetic with injected instants: no clock, no sleeping.

use std::time::{Duration, Instant};

use tokportal_sync::sim::bucket::{Bucket, Decision, Snapshot};

fn allowed(decision: Decision) -> Snapshot {
    match decision {
        Decision::Allowed(snapshot) => snapshot,
        Decision::Limited { .. } => panic!("expected the request to be allowed, got {decision:?}"),
    }
}

#[test]
fn a_full_bucket_allows_exactly_its_burst_then_refuses() {
    let t0 = Instant::now();
    let mut bucket = Bucket::new(120, 2.0, t0);
    for expected in (0..120).rev() {
        assert_eq!(allowed(bucket.try_take(t0)).remaining, expected);
    }
    assert!(matches!(bucket.try_take(t0), Decision::Limited { .. }));
}

#[test]
fn the_bucket_refills_continuously_at_its_rate() {
    let t0 = Instant::now();
    let mut bucket = Bucket::new(3, 2.0, t0);
    for _ in 0..3 {
        allowed(bucket.try_take(t0));
    }
    assert!(matches!(bucket.try_take(t0 + Duration::from_millis(499)), Decision::Limited { .. }));
    assert_eq!(allowed(bucket.try_take(t0 + Duration::from_millis(500))).remaining, 0);
    // 1.5 s later: three more half-second tokens, capped at capacity 3.
    assert_eq!(allowed(bucket.try_take(t0 + Duration::from_secs(2))).remaining, 2);
}

#[test]
fn retry_after_is_the_wait_for_one_token_rounded_up_and_at_least_one_second() {
    let t0 = Instant::now();
    let mut fast = Bucket::new(1, 2.0, t0);
    allowed(fast.try_take(t0));
    // Half a second to the next token, announced as one whole second.
    assert!(matches!(fast.try_take(t0), Decision::Limited { retry_after_secs: 1, .. }));
    let mut slow = Bucket::new(1, 0.25, t0);
    allowed(slow.try_take(t0));
    assert!(matches!(slow.try_take(t0), Decision::Limited { retry_after_secs: 4, .. }));
    assert!(matches!(
        slow.try_take(t0 + Duration::from_millis(2500)),
        Decision::Limited { retry_after_secs: 2, .. }
    ));
}

#[test]
fn reset_is_the_wait_until_the_bucket_is_full_again() {
    let t0 = Instant::now();
    let mut bucket = Bucket::new(120, 2.0, t0);
    let first = allowed(bucket.try_take(t0));
    assert_eq!((first.limit, first.remaining, whole_secs(first.full_in)), (120, 119, 1));
    for _ in 0..9 {
        bucket.try_take(t0);
    }
    // Ten tokens short at 2/s.
    assert_eq!(whole_secs(bucket.snapshot().full_in), 5);
    assert_eq!(whole_secs(allowed(bucket.try_take(t0 + Duration::from_secs(60))).full_in), 1);
}

/// Seconds until full, rounded up, as the headers count them.
fn whole_secs(full_in: Duration) -> u64 {
    full_in.as_secs_f64().ceil() as u64
}

#[test]
fn an_idle_bucket_never_holds_more_than_its_capacity() {
    let t0 = Instant::now();
    let mut bucket = Bucket::new(5, 2.0, t0);
    allowed(bucket.try_take(t0));
    let later = t0 + Duration::from_secs(3600);
    assert_eq!(bucket.tokens_at(later), 5.0);
    assert_eq!(allowed(bucket.try_take(later)).remaining, 4);
}

#[test]
fn a_drained_bucket_refuses_until_the_hold_is_over() {
    let t0 = Instant::now();
    let mut bucket = Bucket::new(120, 2.0, t0);
    bucket.drain(t0, Duration::from_secs(10));
    let Decision::Limited { snapshot, retry_after_secs } = bucket.try_take(t0 + Duration::from_secs(5))
    else {
        panic!("a drained bucket refuses");
    };
    assert_eq!((snapshot.remaining, retry_after_secs), (0, 6));
    assert!(matches!(bucket.try_take(t0 + Duration::from_millis(10_400)), Decision::Limited { .. }));
    assert_eq!(allowed(bucket.try_take(t0 + Duration::from_millis(10_500))).remaining, 0);
}

#[test]
fn time_going_backwards_changes_nothing() {
    let t0 = Instant::now() + Duration::from_secs(10);
    let mut bucket = Bucket::new(2, 1.0, t0);
    allowed(bucket.try_take(t0));
    allowed(bucket.try_take(t0 - Duration::from_secs(5)));
    assert!(matches!(bucket.try_take(t0), Decision::Limited { retry_after_secs: 1, .. }));
}

#[test]
fn reset_is_the_moment_the_bucket_is_full_rounded_up_as_a_whole() {
    use tokportal_sync::sim::retry_after::reset_at;
    let secs = Duration::from_secs_f64;
    // Full at 101.4: the header must not say 101 (floor(now) + ceil(full_in)).
    assert_eq!(reset_at(secs(100.9), secs(0.5)), 102);
    assert_eq!(reset_at(secs(100.2), secs(0.5)), 101);
    assert_eq!(reset_at(secs(100.0), Duration::ZERO), 100);
    assert_eq!(reset_at(secs(100.0), secs(3.0)), 103);
    assert_eq!(reset_at(Duration::MAX, Duration::MAX), u64::MAX);
    let t0 = Instant::now();
    let mut bucket = Bucket::new(120, 2.0, t0);
    let first = allowed(bucket.try_take(t0));
    assert!(first.full_in <= Duration::from_millis(500), "{:?}", first.full_in);
    assert!(first.full_in > Duration::from_millis(499), "{:?}", first.full_in);
}
