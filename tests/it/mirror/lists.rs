//! The account's other lists (delivered accounts, their bans, comment
//! tasks): after a full sync each table equals the simulator's dataset, its
//! typed columns copied from the items; a second sync of an unchanged account
//! rewrites no row; changes converge; a row is marked deleted only on its
//! detail endpoint's own not-found code.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sqlx::PgPool;
use tokportal_sync::mirror::Status;
use tokportal_sync::sim::{self, SimConfig, SimServer};

use super::support::{Script, mirror, proxy, settings, sync, unchanged};

const LISTS: [(&str, &str); 3] = [
    ("accounts", "tokportal.accounts"),
    ("account_bans", "tokportal.account_bans"),
    ("comments", "tokportal.comments"),
];

/// A simulator of `accounts` delivered accounts (and their bans and comment tasks).
pub async fn with_accounts(accounts: usize) -> SimServer {
    let config =
        SimConfig { bundles: 20, accounts: Some(accounts), rate_limit: false, ..SimConfig::default() };
    sim::start(config).await.expect("the simulator starts")
}

/// What the simulator serves of `stream`, by id.
pub fn expected(sim: &SimServer, stream: &str) -> BTreeMap<String, Value> {
    match stream {
        "accounts" => sim.saved_accounts(),
        "account_bans" => sim.account_bans(),
        "comments" => sim.comments(),
        other => panic!("no such list: {other}"),
    }
}

pub async fn live(pool: &PgPool, table: &str) -> BTreeMap<String, Value> {
    sqlx::query_as::<_, (String, Value)>(sqlx::AssertSqlSafe(format!(
        "SELECT id, data FROM {table} WHERE deleted_at IS NULL"
    )))
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .collect()
}

/// Each row's physical version and `changed_at`: equal only if the row was not rewritten.
async fn versions(pool: &PgPool, table: &str) -> BTreeMap<String, (String, chrono::DateTime<chrono::Utc>)> {
    sqlx::query_as::<_, (String, String, chrono::DateTime<chrono::Utc>)>(sqlx::AssertSqlSafe(format!(
        "SELECT id, xmin::text, changed_at FROM {table}"
    )))
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|(id, xmin, changed)| (id, (xmin, changed)))
    .collect()
}

/// Rows whose typed columns differ from their item's fields.
async fn typed_mismatches(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM tokportal.accounts WHERE \
            platform IS DISTINCT FROM data->>'platform' OR country IS DISTINCT FROM data->>'country' \
            OR username IS DISTINCT FROM data->>'username' OR status IS DISTINCT FROM data->>'status' \
            OR banned IS DISTINCT FROM (data->>'banned')::boolean \
            OR banned_at IS DISTINCT FROM (data->>'banned_at')::timestamptz \
            OR created_at IS DISTINCT FROM (data->>'created_at')::timestamptz OR banned IS NULL) \
         + (SELECT count(*) FROM tokportal.account_bans WHERE \
            account_id IS DISTINCT FROM data->>'account_id' OR status IS DISTINCT FROM data->>'status' \
            OR resolution IS DISTINCT FROM data->>'resolution' OR reason IS DISTINCT FROM data->>'reason' \
            OR banned_at IS DISTINCT FROM (data->>'banned_at')::timestamptz \
            OR created_at IS DISTINCT FROM (data->>'created_at')::timestamptz \
            OR updated_at IS DISTINCT FROM (data->>'updated_at')::timestamptz OR updated_at IS NULL) \
         + (SELECT count(*) FROM tokportal.comments WHERE \
            saved_account_id IS DISTINCT FROM data->>'saved_account_id' OR status IS DISTINCT FROM data->>'status' \
            OR post_url IS DISTINCT FROM data->>'post_url' \
            OR created_at IS DISTINCT FROM (data->>'created_at')::timestamptz \
            OR updated_at IS DISTINCT FROM (data->>'updated_at')::timestamptz OR status IS NULL)",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test]
async fn each_list_equals_the_simulators_and_a_second_sync_rewrites_no_row(pool: PgPool) {
    let sim = with_accounts(80).await;
    let mut s = settings();
    s.per_page = 5;
    let m = mirror(&pool, &sim, s);
    for (stream, table) in LISTS {
        let run = sync(&m, stream).await;
        assert_eq!(
            (run.status, run.kind, run.complete),
            (Status::Succeeded, "full", true),
            "{stream}: {:?}",
            run.error
        );
        let want = expected(&sim, stream);
        assert!(run.tally.pages > 1, "{stream}: more than one page ({})", want.len());
        assert_eq!(live(&pool, table).await, want, "{stream}");
    }
    assert_eq!(typed_mismatches(&pool).await, 0, "typed columns are copies of the items' fields");
    let before: Vec<_> = all_versions(&pool).await;
    for (stream, _) in LISTS {
        let run = sync(&m, stream).await;
        let t = &run.tally;
        assert_eq!((run.status, t.inserted, t.updated, t.deleted), (Status::Succeeded, 0, 0, 0), "{stream}");
        assert_eq!(t.unchanged, t.items, "{stream}: every item read was unchanged");
    }
    assert_eq!(all_versions(&pool).await, before, "no row was rewritten");
    sim.shutdown().await;
}

async fn all_versions(pool: &PgPool) -> Vec<BTreeMap<String, (String, chrono::DateTime<chrono::Utc>)>> {
    let mut all = Vec::new();
    for (_, table) in LISTS {
        all.push(versions(pool, table).await);
    }
    all
}

#[sqlx::test]
async fn changes_of_accounts_bans_and_comment_tasks_converge_and_only_changed_rows_move(pool: PgPool) {
    let sim = with_accounts(40).await;
    let m = mirror(&pool, &sim, settings());
    for (stream, _) in LISTS {
        sync(&m, stream).await;
    }
    let before = all_versions(&pool).await;
    let unbanned = sim
        .saved_accounts()
        .into_iter()
        .find(|(_, a)| a["banned"] == json!(false) && a["status"] == json!("active"))
        .map(|(id, _)| id)
        .expect("an active account");
    let renamed = sim.saved_accounts().into_keys().find(|id| *id != unbanned).expect("another account");
    assert!(sim.change_saved_account(&renamed, json!({"username": "renamed"}).as_object().unwrap().clone()));
    let new_ban = sim.ban_saved_account(&unbanned).expect("the account is banned");
    let open_ban = sim
        .account_bans()
        .into_iter()
        .find(|(id, b)| b["status"] == json!("open") && *id != new_ban)
        .map(|(id, _)| id)
        .expect("an open ban");
    assert!(sim.change_ban(&open_ban, json!({"status": "under_review"}).as_object().unwrap().clone()));
    let comment = sim.comments().into_keys().next().expect("a comment task");
    assert!(sim.change_comment(&comment, json!({"status": "disputed"}).as_object().unwrap().clone()));
    let added = sim.insert_comments(3);
    for (stream, table) in LISTS {
        let run = sync(&m, stream).await;
        assert_eq!(run.status, Status::Succeeded, "{stream}: {:?}", run.error);
        assert_eq!(live(&pool, table).await, expected(&sim, stream), "{stream}");
    }
    assert_eq!(typed_mismatches(&pool).await, 0);
    let after = all_versions(&pool).await;
    let moved = |i: usize| -> Vec<String> {
        let mut ids: Vec<String> = after[i]
            .iter()
            .filter(|(id, v)| before[i].get(*id) != Some(*v))
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    };
    let mut want_accounts = vec![renamed, unbanned.clone()];
    want_accounts.sort();
    assert_eq!(moved(0), want_accounts, "the renamed and the newly banned account");
    let mut want_bans = vec![new_ban, open_ban];
    want_bans.sort();
    assert_eq!(moved(1), want_bans);
    let mut want_comments = added;
    want_comments.push(comment);
    want_comments.sort();
    assert_eq!(moved(2), want_comments);
    sim.shutdown().await;
}

#[sqlx::test]
async fn accounts_and_comments_are_marked_deleted_only_on_their_own_not_found_codes(pool: PgPool) {
    let sim = with_accounts(20).await;
    let script = Script::default();
    let (m, server) = proxy(&pool, &sim, script.clone(), unchanged).await;
    for (stream, table, detail) in
        [("accounts", "tokportal.accounts", "/accounts/"), ("comments", "tokportal.comments", "/comments/")]
    {
        sync(&m, stream).await;
        let victim = live(&pool, table).await.into_keys().next().expect("a row");
        let gone = match stream {
            "accounts" => sim.delete_saved_accounts(std::slice::from_ref(&victim)),
            _ => sim.delete_comments(std::slice::from_ref(&victim)),
        };
        assert_eq!(gone, std::slice::from_ref(&victim));
        // A 404 of a route, or of another resource, proves nothing.
        for code in ["NOT_FOUND", "BUNDLE_NOT_FOUND"] {
            let body = json!({"error": {"code": code, "message": "Not found."}}).to_string();
            script.lock().unwrap().answers.insert(format!("{detail}{victim}"), (404, body));
            let run = sync(&m, stream).await;
            assert_eq!(
                (run.tally.delete_checks, run.tally.deleted),
                (1, 0),
                "{stream} {code}: {:?}",
                run.note
            );
            assert!(live(&pool, table).await.contains_key(&victim), "{stream} {code}: still live");
        }
        // Accounts: the reference's other account code proves it too (the
        // simulator answers ACCOUNT_NOT_FOUND; another server may answer
        // SAVED_ACCOUNT_NOT_FOUND). Comments: the simulator's own answer.
        script.lock().unwrap().answers.clear();
        if stream == "accounts" {
            let body =
                json!({"error": {"code": "SAVED_ACCOUNT_NOT_FOUND", "message": "Not found."}}).to_string();
            script.lock().unwrap().answers.insert(format!("{detail}{victim}"), (404, body));
        }
        let run = sync(&m, stream).await;
        assert_eq!(run.tally.deleted, 1, "{stream}: {:?}", run.note);
        assert_eq!(live(&pool, table).await, expected(&sim, stream), "{stream}");
    }
    server.abort();
    sim.shutdown().await;
}

/// Gives the first item of every `/accounts` and `/account-bans` page an id no URL may hold.
fn unsafe_first_ids(path: &str, _: &str, mut body: Value) -> Value {
    if matches!(path, "/accounts" | "/account-bans") {
        body["data"][0]["id"] = json!("../credits/balance");
    }
    body
}

#[sqlx::test]
async fn an_id_that_is_not_one_safe_path_segment_is_set_aside_where_ids_go_into_urls(pool: PgPool) {
    let sim = with_accounts(10).await;
    let (mut m, server) = proxy(&pool, &sim, Script::default(), unsafe_first_ids).await;
    m.settings.per_page = 100;
    // Accounts are asked for by id (delete checks, analytics): set aside.
    let run = sync(&m, "accounts").await;
    assert_eq!((run.status, run.tally.problems), (Status::SucceededWithProblems, 1), "{:?}", run.error);
    assert_eq!(live(&pool, "tokportal.accounts").await.len(), expected(&sim, "accounts").len() - 1);
    let code: String =
        sqlx::query_scalar("SELECT code FROM tokportal.sync_problems WHERE stream = 'accounts'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(code, "UNSAFE_ID");
    // A ban's id never goes into a URL (no detail endpoint): it is kept as served.
    let run = sync(&m, "account_bans").await;
    assert_eq!((run.status, run.tally.problems), (Status::Succeeded, 0), "{:?}", run.error);
    assert!(live(&pool, "tokportal.account_bans").await.contains_key("../credits/balance"));
    server.abort();
    sim.shutdown().await;
}
