//! The queue's gauges as `/metrics` reads them: how many jobs are queued or
//! running, the oldest queued, and how long the job due longest ago has
//! waited for a worker since it became due.

use sqlx::PgPool;
use tokportal_sync::jobs::queue;

async fn job(pool: &PgPool, status: &str, created_mins: i32, run_after_mins: i32, lease_mins: Option<i32>) {
    sqlx::query(
        "INSERT INTO tokportal.mutation_jobs (method, path, body, status, created_at, run_after, locked_until) \
         VALUES ('POST', '/bundles', '{}', $1, now() - make_interval(mins => $2), now() - make_interval(mins => $3), \
                 now() - make_interval(mins => $4))",
    )
    .bind(status)
    .bind(created_mins)
    .bind(run_after_mins)
    .bind(lease_mins)
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test]
async fn the_oldest_due_job_counts_from_when_it_became_due_not_from_when_it_was_enqueued(pool: PgPool) {
    assert_eq!(queue::depth(&pool).await.unwrap(), (0, 0.0, 0.0));
    // Enqueued two hours ago, retrying: due again in ten minutes, so not waiting.
    job(&pool, "queued", 120, -10, None).await;
    let (depth, oldest, due) = queue::depth(&pool).await.unwrap();
    assert_eq!((depth, due), (1, 0.0));
    assert!((7200.0..7230.0).contains(&oldest), "{oldest}");
    // Due for three minutes and not taken.
    job(&pool, "queued", 20, 3, None).await;
    let (_, _, due) = queue::depth(&pool).await.unwrap();
    assert!((180.0..210.0).contains(&due), "{due}");
    // A crashed worker's job, its lease ended seven minutes ago: due since then.
    job(&pool, "running", 30, 30, Some(7)).await;
    // A live worker's job, its lease running: not due.
    job(&pool, "running", 60, 60, Some(-1)).await;
    // Finished jobs are no longer in the queue.
    job(&pool, "succeeded", 600, 600, None).await;
    let (depth, oldest, due) = queue::depth(&pool).await.unwrap();
    assert_eq!(depth, 4);
    assert!((7200.0..7230.0).contains(&oldest), "{oldest}");
    assert!((420.0..450.0).contains(&due), "{due}");
}
