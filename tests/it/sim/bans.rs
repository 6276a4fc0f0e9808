//! `GET /account-bans`: pages, filters, `since` on `updated_at`, and bans
//! appearing or changing through the handle.

use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use tokportal_sync::sim::SimConfig;

use super::accounts::walk;
use super::support::{Api, code, start, unlimited};

fn set(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[tokio::test]
async fn bans_are_listed_in_pages_as_the_handle_holds_them_and_every_banned_account_has_one() {
    let sim = start(SimConfig { bundles: 400, ..unlimited() }).await;
    let api = Api::new(&sim);
    let (items, _) = walk(&api, "/account-bans", 3).await;
    assert_eq!(items, sim.account_bans());
    let accounts = sim.saved_accounts();
    for ban in items.values() {
        for field in
            ["id", "account_id", "status", "resolution", "reason", "banned_at", "created_at", "updated_at"]
        {
            assert!(ban.get(field).is_some(), "{field} in {ban}");
        }
        assert!(accounts.contains_key(ban["account_id"].as_str().unwrap()), "{ban}");
        assert!(ban.get("screenshots").is_none(), "screenshots only when asked");
    }
    for id in accounts.iter().filter(|(_, a)| a["banned"] == true).map(|(id, _)| id) {
        let unresolved = |b: &&Value| b["account_id"] == id.as_str() && b["resolution"] != "reinstated";
        assert!(items.values().any(|b| unresolved(&b)), "banned account {id} has its ban");
    }
    let statuses: Vec<&Value> = items.values().map(|b| &b["status"]).collect();
    for status in ["open", "under_review", "resolved"] {
        assert!(statuses.contains(&&json!(status)), "{status} is seeded");
    }
    let first = api.get_json("/account-bans?per_page=100").await;
    let created: Vec<&str> =
        first["data"].as_array().unwrap().iter().map(|b| b["created_at"].as_str().unwrap()).collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "newest first");
    sim.shutdown().await;
}

#[tokio::test]
async fn ban_filters_match_exactly_and_screenshots_come_only_when_asked() {
    let sim = start(SimConfig { bundles: 400, ..unlimited() }).await;
    let api = Api::new(&sim);
    let all = sim.account_bans();
    let count = |f: &dyn Fn(&Value) -> bool| all.values().filter(|b| f(b)).count();
    let one = all.values().next().unwrap()["account_id"].as_str().unwrap().to_string();
    let cases: Vec<(String, usize)> = vec![
        ("status=open".into(), count(&|b| b["status"] == "open")),
        (
            "status=open,under_review".into(),
            count(&|b| b["status"] == "open" || b["status"] == "under_review"),
        ),
        ("resolution=reinstated".into(), count(&|b| b["resolution"] == "reinstated")),
        ("status=resolved&resolution=replaced".into(), count(&|b| b["resolution"] == "replaced")),
        (format!("account_id={one}"), count(&|b| b["account_id"] == one.as_str())),
        ("status=closed".into(), 0),
        (format!("account_id={}", uuid::Uuid::nil()), 0),
    ];
    for (query, expected) in cases {
        let (items, _) = walk(&api, &format!("/account-bans?{query}"), 5).await;
        assert_eq!(items.len(), expected, "{query}");
    }
    assert!(count(&|b| b["status"] == "open") > 0 && count(&|b| b["resolution"] == "reinstated") > 0);
    let shown = api.get_json("/account-bans?include_screenshots=true&per_page=2").await;
    assert!(shown["data"].as_array().unwrap().iter().all(|b| b["screenshots"].is_array()));
    sim.shutdown().await;
}

#[tokio::test]
async fn since_selects_the_bans_changed_at_or_after_it_and_a_change_bumps_updated_at() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let total = sim.account_bans().len();
    let before = now();
    let none = api.get_json(&format!("/account-bans?since={before}")).await;
    assert_eq!(none["pagination"]["total"], 0, "seeded bans all changed before now");
    let old = api.get_json("/account-bans?since=2000-01-01T00:00:00Z").await;
    assert_eq!(old["pagination"]["total"], total);
    let account = sim.saved_accounts().into_iter().find(|(_, a)| a["banned"] == false).unwrap().0;
    let new = sim.ban_saved_account(&account).expect("an unbanned account can be banned");
    assert_eq!(sim.ban_saved_account(&account), None, "not twice");
    assert_eq!(sim.ban_saved_account("nope"), None);
    let banned = api.get_json(&format!("/accounts/{account}")).await["data"].clone();
    assert_eq!((&banned["banned"], &banned["status"]), (&json!(true), &json!("banned")));
    let seeded = sim.account_bans().into_iter().find(|(id, b)| *id != new && b["status"] == "open").unwrap();
    let since = api.get_json(&format!("/account-bans?since={before}")).await;
    let ids: Vec<&str> =
        since["data"].as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [new.as_str()]);
    let ban = &since["data"][0];
    assert_eq!(
        (&ban["account_id"], &ban["status"], &ban["resolution"]),
        (&json!(account), &json!("open"), &Value::Null)
    );
    assert!(ban["updated_at"].as_str().unwrap() >= before.as_str());
    assert!(sim.change_ban(&seeded.0, set(json!({"status": "under_review"}))));
    assert!(!sim.change_ban("nope", Map::new()));
    let changed = &sim.account_bans()[&seeded.0];
    assert!(changed["updated_at"].as_str().unwrap() > seeded.1["updated_at"].as_str().unwrap());
    assert_eq!(changed["status"], "under_review");
    let since = api.get_json(&format!("/account-bans?since={before}")).await;
    assert_eq!(since["pagination"]["total"], 2, "the new ban and the changed one");
    // A ban resolved `reinstated` lifts the account's ban.
    assert!(sim.change_ban(&new, set(json!({"status": "resolved", "resolution": "reinstated"}))));
    assert_eq!(sim.saved_accounts()[&account]["banned"], false);
    for bad in ["yesterday", "2026-13-01T00:00:00Z", "1700000000"] {
        let (status, code, details) =
            code(api.get(&format!("/account-bans?since={bad}")).send().await.unwrap()).await;
        assert_eq!(
            (status, code.as_str(), &details["field"]),
            (400, "VALIDATION_ERROR", &json!("since")),
            "{bad}"
        );
    }
    sim.shutdown().await;
}
