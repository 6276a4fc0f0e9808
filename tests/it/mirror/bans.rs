//! Account bans, a list with no detail endpoint: between two full walks a
//! routine run reads only `GET /account-bans?since=` the last successful
//! run's start minus `sync.since_overlap`, and never deletes; only full
//! walks do, once two of them in a row missed a ban.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;
use tokportal_sync::mirror::Status;
use tokportal_sync::mirror::walk::since_value;

use super::lists::{expected, live, with_accounts};
use super::support::{Script, proxy, sync};

const TABLE: &str = "tokportal.account_bans";

async fn started_at(pool: &PgPool, run_id: i64) -> chrono::DateTime<chrono::Utc> {
    sqlx::query_scalar("SELECT started_at FROM tokportal.sync_runs WHERE id = $1")
        .bind(run_id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The `since` of every `/account-bans` request the proxy forwarded from `from` on.
fn sinces(script: &Script, from: usize) -> Vec<Option<String>> {
    let asked = script.lock().unwrap().asked[from..].to_vec();
    asked
        .iter()
        .filter(|uri| uri.starts_with("/account-bans"))
        .map(|uri| {
            let url = url::Url::parse(&format!("http://proxy{uri}")).unwrap();
            url.query_pairs().find(|(k, _)| k == "since").map(|(_, v)| v.into_owned())
        })
        .collect()
}

#[sqlx::test]
async fn a_routine_run_reads_only_the_bans_changed_since_the_last_run_with_the_overlap(pool: PgPool) {
    let sim = with_accounts(300).await;
    let script = Script::default();
    let (m, server) = proxy(&pool, &sim, script.clone(), super::support::unchanged).await;
    let full = sync(&m, "account_bans").await;
    assert_eq!(
        (full.status, full.kind, full.complete),
        (Status::Succeeded, "full", true),
        "{:?}",
        full.error
    );
    let all = expected(&sim, "account_bans");
    assert!(full.tally.pages > 1 && full.tally.items == all.len() as u64, "{} bans", all.len());
    assert_eq!(sinces(&script, 0).into_iter().flatten().count(), 0, "a full walk reads the whole list");

    // Three changes: a ban moves on, another is resolved, an account is banned.
    let (open, review) = {
        let bans = sim.account_bans();
        let pick =
            |status: &str| bans.iter().find(|(_, b)| b["status"] == json!(status)).map(|(id, _)| id.clone());
        (pick("open").expect("an open ban"), pick("under_review").expect("a ban under review"))
    };
    let set = |v: Value| v.as_object().unwrap().clone();
    assert!(sim.change_ban(&open, set(json!({"status": "under_review"}))));
    assert!(sim.change_ban(&review, set(json!({"status": "resolved", "resolution": "refunded"}))));
    let unbanned = sim
        .saved_accounts()
        .into_iter()
        .find(|(_, a)| a["banned"] == json!(false))
        .map(|(id, _)| id)
        .expect("an account not banned");
    let new_ban = sim.ban_saved_account(&unbanned).expect("banned");

    let asked_before = script.lock().unwrap().asked.len();
    let routine = sync(&m, "account_bans").await;
    assert_eq!((routine.status, routine.kind, routine.complete), (Status::Succeeded, "routine", false));
    let since = since_value(started_at(&pool, full.run_id).await, m.settings.since_overlap);
    assert!(since.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(&since).is_ok(), "{since}");
    assert_eq!(
        sinces(&script, asked_before),
        [Some(since.clone())],
        "one page of what changed, every request with since"
    );
    assert!(routine.note.as_deref().is_some_and(|n| n.contains(&since)), "{:?}", routine.note);
    // Read: the three changed bans only (the seeded ones last changed long ago).
    assert_eq!((routine.tally.items, routine.tally.requests), (3, 1), "{:?}", routine.tally);
    assert_eq!((routine.tally.inserted, routine.tally.updated), (1, 2));
    assert!(expected(&sim, "account_bans").contains_key(&new_ban));
    assert_eq!(live(&pool, TABLE).await, expected(&sim, "account_bans"));

    // The next routine run reads back to this one's start (minus the overlap): the same three.
    let again = sync(&m, "account_bans").await;
    let since = since_value(started_at(&pool, routine.run_id).await, m.settings.since_overlap);
    assert!(again.note.as_deref().is_some_and(|n| n.contains(&since)), "{:?}", again.note);
    assert_eq!((again.tally.items, again.tally.unchanged), (3, 3));
    server.abort();
    sim.shutdown().await;
}

/// Leaves out of every `/account-bans` page the bans marked `"hide": true`.
fn hide_marked(path: &str, _: &str, mut body: Value) -> Value {
    if path == "/account-bans" {
        let items = body["data"].as_array_mut().unwrap();
        let before = items.len();
        items.retain(|b| b["hide"] != json!(true));
        let hidden = (before - items.len()) as u64;
        let total = body["pagination"]["total"].as_u64().unwrap();
        body["pagination"]["total"] = json!(total - hidden);
    }
    body
}

#[sqlx::test]
async fn routine_runs_never_delete_and_a_ban_missed_by_two_full_walks_is_marked_deleted(pool: PgPool) {
    let sim = with_accounts(60).await;
    let (mut m, server) = proxy(&pool, &sim, Script::default(), hide_marked).await;
    // One page: hiding a ban changes the only page's total, never a later page's offsets.
    m.settings.per_page = 100;
    sync(&m, "account_bans").await;
    let victim = live(&pool, TABLE).await.into_keys().next().expect("a ban");
    // The mark bumps its updated_at: routine runs read it, and it is hidden.
    assert!(sim.change_ban(&victim, json!({"hide": true}).as_object().unwrap().clone()));
    for round in 0..3 {
        let run = sync(&m, "account_bans").await;
        assert_eq!((run.kind, run.tally.deleted), ("routine", 0), "round {round}");
        let missed: i32 =
            sqlx::query_scalar("SELECT missing_walks FROM tokportal.account_bans WHERE id = $1")
                .bind(&victim)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(missed, 0, "round {round}: a routine run counts no miss");
    }
    assert!(live(&pool, TABLE).await.contains_key(&victim));
    m.settings.full_walk_every = Duration::ZERO;
    let first = sync(&m, "account_bans").await;
    assert_eq!((first.kind, first.tally.deleted), ("full", 0), "{:?}", first.note);
    assert!(live(&pool, TABLE).await.contains_key(&victim), "one miss deletes nothing");
    let second = sync(&m, "account_bans").await;
    assert_eq!((second.kind, second.tally.deleted), ("full", 1), "{:?}", second.note);
    assert!(!live(&pool, TABLE).await.contains_key(&victim));
    server.abort();
    sim.shutdown().await;
}

#[sqlx::test]
async fn under_steady_churn_routine_runs_without_overlap_converge_on_the_simulators_lists(pool: PgPool) {
    let sim = with_accounts(300).await;
    let mut s = super::support::settings();
    // No overlap: each routine run reads back exactly to the previous run's
    // start, so a change made while that run was reading must still be read.
    s.since_overlap = Duration::ZERO;
    let m = super::support::mirror(&pool, &sim, s);
    let lists =
        [("accounts", "tokportal.accounts"), ("account_bans", TABLE), ("comments", "tokportal.comments")];
    for (stream, _) in lists {
        sync(&m, stream).await;
    }
    let http = reqwest::Client::new();
    let churn = |body: &'static str| http.put(format!("{}/account-churn", sim.admin_url())).body(body).send();
    assert!(churn(r#"{"per_second": 200}"#).await.unwrap().status().is_success());
    let mut read = 0;
    for round in 0..4 {
        for (stream, _) in lists {
            let run = sync(&m, stream).await;
            assert_eq!(run.status, Status::Succeeded, "round {round} {stream}: {:?}", run.error);
            if stream == "account_bans" {
                assert_eq!(run.kind, "routine", "round {round}");
                read += run.tally.items;
            }
        }
    }
    assert!(churn(r#"{"per_second": 0}"#).await.unwrap().status().is_success());
    let bans = sync(&m, "account_bans").await;
    assert_eq!(bans.kind, "routine");
    for (stream, table) in lists {
        if stream != "account_bans" {
            sync(&m, stream).await;
        }
        assert_eq!(live(&pool, table).await, expected(&sim, stream), "{stream}");
    }
    let total = expected(&sim, "account_bans").len() as u64;
    assert!(
        read > 0 && read < 4 * total,
        "the routine runs read {read} bans of {total}, not the whole list each"
    );
    sim.shutdown().await;
}
