//! Several replayers at once: a job is never sent by two of them at the same
//! time, and jobs of one ordering key run one at a time, in enqueue order.

use std::collections::BTreeMap;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tokportal_sync::jobs::drain;

use super::support::*;

#[sqlx::test]
async fn the_ordering_key_defaults_to_the_bundle_in_the_path(pool: PgPool) {
    let a = enqueue(&pool, "POST", "/bundles/b-1/publish", None).await;
    let b = enqueue(&pool, "PATCH", "/bundles/b-1?x=1", Some("{}")).await;
    let bulk = enqueue(&pool, "POST", "/bundles/bulk", Some("{}")).await;
    let create = enqueue(&pool, "POST", "/bundles", Some("{}")).await;
    assert_eq!((a.ordering_key.as_deref(), b.ordering_key.as_deref()), (Some("b-1"), Some("b-1")));
    assert_eq!((bulk.ordering_key, create.ordering_key), (None, None));
}

#[sqlx::test]
async fn concurrent_replayers_send_each_job_once_and_one_bundles_jobs_in_order(pool: PgPool) {
    let sim = sim().await;
    let bundles: Vec<String> = sim.list_items().into_keys().take(5).collect();
    let mut expected = BTreeMap::new();
    for n in 0..8 {
        for id in &bundles {
            let title = format!("{id}-{n}");
            enqueue(&pool, "PATCH", &format!("/bundles/{id}"), Some(&format!(r#"{{"title":"{title}"}}"#)))
                .await;
            expected.insert(id.clone(), title);
        }
        enqueue(&pool, "POST", "/bundles", Some(ACCOUNT_ONLY)).await;
    }
    // Slow executions make overlapping sends likely if claims allowed them.
    sim.update_faults(|f| f.slow_ms = 20).unwrap();
    let runs: Vec<_> = (0..3)
        .map(|_| {
            let r = replayer(&pool, &sim);
            tokio::spawn(async move { drain(&r, 4, &CancellationToken::new()).await })
        })
        .collect();
    let mut reports = Vec::new();
    for run in runs {
        reports.push(run.await.unwrap().expect("the drain runs"));
    }
    let succeeded: u64 = reports.iter().map(|r| r.succeeded).sum();
    assert_eq!(succeeded, 48);
    assert_eq!(reports.iter().map(|r| r.retrying + r.superseded).sum::<u64>(), 0, "no send ever met another");

    let ledger = sim.ledger();
    assert_eq!(ledger.len(), 48, "every job executed once");
    assert_eq!(sim.key_stats(tokportal_sync::sim::DEMO_KEY).unwrap().replays, 0);
    for id in &bundles {
        let path = format!("/bundles/{id}");
        let titles: Vec<_> = ledger.iter().filter(|e| e.path == path).map(|e| e.at).collect();
        assert!(titles.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(
            sim.bundle(id).unwrap().item["title"],
            expected[id].as_str(),
            "the last enqueued ran last"
        );
    }
    // One bundle's jobs never overlapped: each was sent after the previous one finished.
    let overlaps: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tokportal.mutation_jobs a JOIN tokportal.mutation_jobs b
           ON a.ordering_key = b.ordering_key AND a.id < b.id
         JOIN tokportal.mutation_attempts s ON s.job_id = b.id
         WHERE s.sent_at < a.finished_at",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(overlaps, 0);
    sim.shutdown().await;
}
