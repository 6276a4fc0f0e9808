//! `worker demo`: the quick start, end to end through the binary: the full
//! demo against a given database and against a throwaway cluster, the
//! walk-only demo, and its usage errors.

use sqlx::PgPool;

use crate::helpers::{database_url, text, worker};

async fn demo(args: &[&str], env: Vec<(String, String)>) -> std::process::Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        worker(dir.path(), &args, &env)
    })
    .await
    .unwrap()
}

#[sqlx::test]
async fn the_demo_mirrors_and_replays_every_job_exactly_once_into_database_url(pool: PgPool) {
    let url = database_url(&pool).await;
    let out = demo(
        &["demo", "--bundles", "200", "--rate", "500", "--burst", "500"],
        vec![("DATABASE_URL".into(), url)],
    )
    .await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}\n{stdout}", text(&out.stderr));
    assert!(stdout.contains("jobs succeeded: 6 of 6"), "{stdout}");
    assert!(stdout.contains("executed exactly once (simulator's ledger): 6 of 6"), "{stdout}");
    assert!(stdout.contains("failed 2 sends (503) and dropped 2 answers"), "{stdout}");
    assert!(stdout.contains("-- live bundles by status"), "{stdout}");
    let succeeded: i64 =
        sqlx::query_scalar("SELECT count(*) FROM tokportal.mutation_jobs WHERE status = 'succeeded'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(succeeded, 6);
    let bundles: i64 = sqlx::query_scalar("SELECT count(*) FROM tokportal.bundles WHERE deleted_at IS NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(bundles > 200, "the created bundles were mirrored too: {bundles}");
}

#[sqlx::test]
async fn the_demo_refuses_a_database_that_mirrors_another_account(pool: PgPool) {
    tokportal_sync::db::migrate(&pool).await.unwrap();
    sqlx::query("INSERT INTO tokportal.bundles (id, data) VALUES ('not-from-the-simulator', '{}')")
        .execute(&pool)
        .await
        .unwrap();
    let url = database_url(&pool).await;
    let out = demo(&["demo", "--bundles", "50", "--rate", "500"], vec![("DATABASE_URL".into(), url)]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("scratch database"), "{}", text(&out.stderr));
}

#[tokio::test]
async fn the_demo_starts_a_throwaway_cluster_and_removes_it_afterwards() {
    let out =
        demo(&["demo", "--throwaway", "--bundles", "100", "--rate", "500", "--burst", "500"], vec![]).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}\n{stdout}");
    assert!(stdout.contains("executed exactly once (simulator's ledger): 6 of 6"), "{stdout}");
    let dir = stderr
        .lines()
        .find_map(|l| l.strip_prefix("database: a throwaway cluster in "))
        .and_then(|rest| rest.split(' ').next())
        .expect("the cluster's directory is named");
    assert!(!std::path::Path::new(dir).exists(), "{dir} was removed");
    assert!(stdout.contains("the throwaway cluster is gone"), "{stdout}");
}

#[test]
fn without_postgresql_programs_the_demo_says_how_to_install_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = worker(dir.path(), &["demo", "--throwaway", "--pg-bin", "/nonexistent"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("apt-get install postgresql"), "{}", text(&out.stderr));
}

#[test]
fn bad_demo_flags_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["demo", "--rate", "0"][..],
        &["demo", "--walk-only", "--rate", "0"],
        &["demo", "--rate", "-1"],
        &["demo", "--bundles", "5000000"],
        &["demo", "--burst", "0"],
    ] {
        let out = worker(dir.path(), args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
    }
}

#[test]
fn the_demo_walks_every_bundle_within_the_budget_even_while_the_account_changes() {
    let dir = tempfile::tempdir().unwrap();
    let out = worker(
        dir.path(),
        &["demo", "--walk-only", "--bundles", "1500", "--rate", "20", "--burst", "200", "--drift-every", "3"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("(missing from the walk: 0)"), "{stdout}");
    assert!(stdout.contains("(0 answered 429 by the simulator)"), "{stdout}");
    let reread: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("pages read"))
        .and_then(|rest| rest.split('(').nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("a `pages read` line");
    assert!(reread > 0, "the drifting account made the walk read pages again: {stdout}");
}
