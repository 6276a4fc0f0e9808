//! Two page transactions in flight: the next page is written while the page
//! before it commits, pages commit in the order read, and a page that fails
//! (its write or the next page's read) while the next one is being written
//! leaves nothing committed after the last page written whole; the next run
//! resumes there.
//!
//! A deferred trigger on `sync_runs` runs as each page's transaction
//! commits: it logs the page, may hold the commit until something happens
//! elsewhere (another transaction writing `bundles`: the next page; or the
//! next page asked of the server), counting in a sequence (not rolled back)
//! the holds that saw it happen, and may refuse the commit.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::PgPool;
use tokportal_sync::mirror::Status;

use super::support::{checkpoints, live_bundles, mirror, proxied, settings, sim, sync};

const SCRIPT: &str = r#"
CREATE SEQUENCE public.held;
CREATE TABLE public.commits (page int NOT NULL, at timestamptz NOT NULL);
CREATE TABLE public.asked (page int NOT NULL);
-- `until`: 'writing' (another transaction holds a write lock on bundles) or 'asked' (the next page was asked).
CREATE TABLE public.hold (page int NOT NULL, until text NOT NULL);
CREATE TABLE public.refuse (page int NOT NULL);
CREATE FUNCTION public.page_commits() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    wanted text := (SELECT until FROM public.hold WHERE page = NEW.last_page);
BEGIN
    IF NEW.status <> 'running' OR NEW.pages = OLD.pages THEN
        RETURN NULL;
    END IF;
    -- At most 5 s: what is waited for happens within milliseconds, or never.
    FOR i IN 1..500 LOOP
        EXIT WHEN wanted IS NULL;
        IF (wanted = 'writing' AND EXISTS (
                SELECT 1 FROM pg_locks WHERE relation = 'tokportal.bundles'::regclass
                AND mode = 'RowExclusiveLock' AND granted AND pid <> pg_backend_pid()))
           OR (wanted = 'asked' AND EXISTS (SELECT 1 FROM public.asked WHERE page = NEW.last_page + 1)) THEN
            PERFORM nextval('public.held');
            EXIT;
        END IF;
        PERFORM pg_sleep(0.01);
    END LOOP;
    INSERT INTO public.commits VALUES (NEW.last_page, clock_timestamp());
    IF EXISTS (SELECT 1 FROM public.refuse WHERE page = NEW.last_page) THEN
        RAISE EXCEPTION 'page % refused at commit', NEW.last_page;
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER page_commits AFTER UPDATE ON tokportal.sync_runs
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.page_commits();
"#;

async fn install(pool: &PgPool) {
    sqlx::raw_sql(SCRIPT).execute(pool).await.unwrap();
}

/// How many holds saw what they waited for happen before the commit.
async fn held(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM public.held")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The pages committed, in the order they committed.
async fn commits(pool: &PgPool) -> Vec<i32> {
    sqlx::query_scalar("SELECT page FROM public.commits ORDER BY at").fetch_all(pool).await.unwrap()
}

#[sqlx::test]
async fn the_next_page_is_written_while_a_page_commits_and_pages_commit_in_order(pool: PgPool) {
    install(&pool).await;
    // Every page but the last holds its commit until the next page writes bundles.
    sqlx::query("INSERT INTO public.hold SELECT p, 'writing' FROM generate_series(1, 11) AS p")
        .execute(&pool)
        .await
        .unwrap();
    let sim = sim(300).await;
    let m = mirror(&pool, &sim, settings());

    let run = sync(&m, "bundles").await;
    assert_eq!(run.status, Status::Succeeded, "{:?}", run.error);
    assert_eq!((run.tally.pages, run.tally.items, run.tally.inserted), (12, 300, 300));
    assert_eq!(held(&pool).await, 11, "each page's next page was written while it committed");
    assert_eq!(commits(&pool).await, (1..=12).collect::<Vec<_>>(), "pages committed in order");
    assert_eq!(checkpoints(&pool).await, vec![("full".into(), "succeeded".into(), None, 12)]);
    assert_eq!(live_bundles(&pool).await.len(), 300);
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_page_failing_at_commit_while_the_next_is_written_commits_nothing_after_the_page_before_and_the_next_run_resumes_there(
    pool: PgPool,
) {
    install(&pool).await;
    sqlx::raw_sql("INSERT INTO public.hold VALUES (5, 'writing'); INSERT INTO public.refuse VALUES (5)")
        .execute(&pool)
        .await
        .unwrap();
    let sim = sim(300).await;
    let m = mirror(&pool, &sim, settings());

    let run = sync(&m, "bundles").await;
    assert_eq!(run.status, Status::Failed);
    let error = format!("{:#}", run.error.unwrap());
    assert!(error.contains("page 5 refused at commit"), "{error}");
    assert_eq!(held(&pool).await, 1, "page 6 was being written as page 5 failed");
    assert_eq!(commits(&pool).await, vec![1, 2, 3, 4], "nothing committed after page 4");
    assert_eq!(checkpoints(&pool).await, vec![("full".into(), "failed".into(), None, 4)]);
    assert_eq!(live_bundles(&pool).await.len(), 4 * 25);
    let seen: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tokportal.sync_seen").fetch_one(&pool).await.unwrap();
    assert_eq!(seen, 0, "the failed run's seen set is forgotten");

    sqlx::raw_sql("DELETE FROM public.refuse; DELETE FROM public.hold").execute(&pool).await.unwrap();
    let resumed = sync(&m, "bundles").await;
    assert_eq!(resumed.status, Status::Succeeded, "{:?}", resumed.error);
    assert_eq!(resumed.resumed_from_page, Some(4));
    assert_eq!(resumed.tally.pages, 12 - 4 + 1, "the resumed run reads from the checkpoint on");
    assert_eq!(checkpoints(&pool).await[1], ("resumed".into(), "succeeded".into(), Some(4), 12));
    assert_eq!(live_bundles(&pool).await.len(), 300);
    sim.shutdown().await;
}

#[sqlx::test]
async fn a_page_failing_to_read_while_the_page_before_commits_ends_the_run_at_that_page_and_the_next_run_resumes_there(
    pool: PgPool,
) {
    install(&pool).await;
    // Page 4's commit waits until page 5 was asked; page 5's answer is not JSON.
    sqlx::query("INSERT INTO public.hold VALUES (4, 'asked')").execute(&pool).await.unwrap();
    let sim = sim(300).await;
    let failing = Arc::new(AtomicBool::new(true));
    let (db, fail) = (pool.clone(), failing.clone());
    let m = proxied(&pool, &sim, move |query: String| {
        let (db, fail) = (db.clone(), fail.clone());
        async move {
            if !fail.load(Ordering::SeqCst) || !query.split('&').any(|kv| kv == "page=5") {
                return None;
            }
            sqlx::query("INSERT INTO public.asked VALUES (5)").execute(&db).await.unwrap();
            Some("{\"data\": [".to_string())
        }
    })
    .await;

    let run = sync(&m, "bundles").await;
    assert_eq!(run.status, Status::Failed);
    assert!(format!("{:#}", run.error.unwrap()).contains("page=5"), "the error names the page");
    assert_eq!(held(&pool).await, 1, "page 5 was asked while page 4 was being committed");
    assert_eq!(commits(&pool).await, vec![1, 2, 3, 4], "page 4 committed, nothing after it");
    assert_eq!(checkpoints(&pool).await, vec![("full".into(), "failed".into(), None, 4)]);
    assert_eq!(live_bundles(&pool).await.len(), 4 * 25);

    failing.store(false, Ordering::SeqCst);
    let resumed = sync(&m, "bundles").await;
    assert_eq!(resumed.status, Status::Succeeded, "{:?}", resumed.error);
    assert_eq!(resumed.resumed_from_page, Some(4));
    assert_eq!(live_bundles(&pool).await.len(), 300);
    sim.shutdown().await;
}
