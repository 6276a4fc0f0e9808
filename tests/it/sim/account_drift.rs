//! Drift of the delivered accounts: `/__sim/account-churn` (bans appearing,
//! bans and comment tasks moving, the day moving) and the admin endpoints the
//! demo and benchmarks call; and the fault knobs on the new endpoints.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use tokportal_sync::sim::{DEMO_KEY, SimConfig};

use super::support::{Api, admin_url, client, code, start, unlimited};

fn stamp(at: f64) -> String {
    DateTime::from_timestamp_millis((at * 1000.0) as i64)
        .unwrap()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[tokio::test]
async fn account_churn_bans_moves_bans_and_tasks_and_days_at_its_rates_and_logs_each_change() {
    let sim = start(SimConfig { bundles: 500, ..unlimited() }).await;
    let (api, http) = (Api::new(&sim), client());
    let today = sim.analytics(sim.saved_accounts().keys().next().unwrap()).unwrap()["date"].clone();
    let start_at = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let put = |body: &'static str| http.put(admin_url(&sim, "/account-churn")).body(body).send();
    assert_eq!(put(r#"{"per_second": 300, "seconds_per_day": 0.05}"#).await.unwrap().status(), 200);
    for bad in [r#"{"per_second": -1}"#, r#"{"seconds_per_day": "x"}"#, r#"{"rate": 1}"#] {
        assert_eq!(put(bad).await.unwrap().status(), 400, "{bad}");
    }
    // Bounded wait for enough changes of every kind (300 a second, a day every 50 ms).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log: Value =
            http.get(admin_url(&sim, "/account-churn")).send().await.unwrap().json().await.unwrap();
        let kinds: Vec<String> =
            log["data"].as_array().unwrap().iter().map(|c| c["kind"].as_str().unwrap().into()).collect();
        if ["ban", "ban_step", "comment_step", "day"].iter().all(|k| kinds.iter().any(|c| c == k))
            && kinds.len() >= 40
        {
            break;
        }
        assert!(Instant::now() < deadline, "{kinds:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(put(r#"{"per_second": 0}"#).await.unwrap().status(), 200);
    // Stopped: the log read now holds every change there will be.
    let log: Value = http.get(admin_url(&sim, "/account-churn")).send().await.unwrap().json().await.unwrap();
    let changes = log["data"].as_array().unwrap();
    assert!(changes.len() >= 40);
    let (bans, comments) = (sim.account_bans(), sim.comments());
    let mut last: HashMap<&str, &Value> = HashMap::new();
    for change in changes.iter().filter(|c| c["id"].is_string()) {
        last.insert(change["id"].as_str().unwrap(), change);
    }
    for (id, change) in &last {
        let item = match change["kind"].as_str().unwrap() {
            "comment_step" => &comments[*id],
            _ => &bans[*id],
        };
        assert_eq!(item["updated_at"], stamp(change["at"].as_f64().unwrap()), "{change} stamped {item}");
    }
    for change in changes.iter().filter(|c| c["kind"] == "ban") {
        let ban = &bans[change["id"].as_str().unwrap()];
        assert_eq!(ban["created_at"].as_str().unwrap()[..10], stamp(change["at"].as_f64().unwrap())[..10]);
    }
    // `since` the start reads exactly the bans churn made or moved.
    let changed_bans: std::collections::BTreeSet<&str> = changes
        .iter()
        .filter(|c| c["kind"] == "ban" || c["kind"] == "ban_step")
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let since = super::accounts::walk(&api, &format!("/account-bans?since={start_at}"), 100).await.0;
    assert_eq!(since.keys().map(String::as_str).collect::<std::collections::BTreeSet<_>>(), changed_bans);
    // The days moved, and analytics with them.
    let days = changes.iter().filter(|c| c["kind"] == "day").count();
    let id = sim.saved_accounts().into_keys().next().unwrap();
    let now = api.get_json(&format!("/accounts/{id}/analytics")).await["data"].clone();
    assert_eq!(Some(&now["date"]), changes.iter().rev().find(|c| c["kind"] == "day").map(|c| &c["date"]));
    assert_ne!(now["date"], today);
    assert!(days >= 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn admin_endpoints_ban_change_insert_delete_and_move_the_day() {
    let sim = start(SimConfig { bundles: 200, ..unlimited() }).await;
    let http = client();
    let post = |path: &str, body: Value| http.post(admin_url(&sim, path)).body(body.to_string()).send();
    let answer = |r: reqwest::Response| async move {
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()
    };
    let bans_before = sim.account_bans().len();
    let banned = answer(post("/accounts/ban", json!({"count": 2})).await.unwrap()).await;
    assert_eq!(banned["banned"].as_array().unwrap().len(), 2);
    assert_eq!(sim.account_bans().len(), bans_before + 2);
    let open = banned["banned"][0].as_str().unwrap();
    let stepped = answer(
        post("/bans/change", json!({"ids": [open], "set": {"status": "under_review"}})).await.unwrap(),
    )
    .await;
    assert_eq!(stepped["changed"], json!([open]));
    assert_eq!(sim.account_bans()[open]["status"], "under_review");
    let moved = answer(post("/bans/change", json!({"count": 3})).await.unwrap()).await;
    assert!(!moved["changed"].as_array().unwrap().is_empty());
    let inserted = answer(post("/comments/insert", json!({"count": 3})).await.unwrap()).await;
    let new: Vec<String> =
        inserted["inserted"].as_array().unwrap().iter().map(|i| i.as_str().unwrap().into()).collect();
    assert_eq!(new.len(), 3);
    assert!(new.iter().all(|id| sim.comments()[id]["status"] == "pending"));
    let changed = answer(
        post("/comments/change", json!({"ids": [new[0]], "set": {"status": "posted"}})).await.unwrap(),
    )
    .await;
    assert_eq!(changed["changed"], json!([new[0]]));
    let stepped = answer(post("/comments/change", json!({"count": 2})).await.unwrap()).await;
    assert!(!stepped["changed"].as_array().unwrap().is_empty());
    let deleted = answer(post("/comments/delete", json!({"ids": [new[1], "nope"]})).await.unwrap()).await;
    assert_eq!(deleted["deleted"], json!([new[1]]));
    let account = sim.saved_accounts().into_keys().next().unwrap();
    let renamed = answer(
        post("/accounts/change", json!({"ids": [account], "set": {"display_name": "Renamed"}}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(renamed["changed"], json!([account]));
    assert_eq!(sim.saved_accounts()[&account]["display_name"], "Renamed");
    let before = sim.analytics(&account).unwrap();
    let day = answer(post("/day/advance", json!({"days": 3})).await.unwrap()).await;
    let after = sim.analytics(&account).unwrap();
    assert_eq!(after["date"], day["date"]);
    let expected = chrono::NaiveDate::parse_from_str(before["date"].as_str().unwrap(), "%Y-%m-%d").unwrap()
        + chrono::Days::new(3);
    assert_eq!(after["date"], expected.format("%Y-%m-%d").to_string());
    let gone = answer(post("/accounts/delete", json!({"ids": [account]})).await.unwrap()).await;
    assert_eq!(gone["deleted"], json!([account]));
    for (path, body) in
        [("/accounts/ban", json!({"count": 10_001})), ("/comments/change", json!({"bogus": 1}))]
    {
        assert_eq!(post(path, body).await.unwrap().status(), 400, "{path}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn the_fault_knobs_apply_to_the_new_endpoints_as_to_bundles() {
    let sim = start(SimConfig { bundles: 100, ..SimConfig::default() }).await;
    let api = Api::new(&sim);
    let account = sim.saved_accounts().into_keys().next().unwrap();
    let (hook, _) = super::webhooks::register(&api, "https://h.example.test/x", json!([])).await;
    let lists = [
        "/accounts".to_string(),
        "/account-bans".into(),
        "/comments".into(),
        "/webhooks".into(),
        format!("/webhooks/{hook}/deliveries"),
    ];
    for path in &lists {
        sim.update_faults(|f| f.malformed_next = 1).unwrap();
        let cut = api.get(path).send().await.unwrap();
        assert_eq!(cut.status(), 200, "{path}");
        assert!(serde_json::from_slice::<Value>(&cut.bytes().await.unwrap()).is_err(), "{path} is cut off");
        assert!(api.get_json(path).await["data"].is_array(), "{path} whole again");
    }
    let singles = [
        format!("/accounts/{account}"),
        format!("/accounts/{account}/analytics"),
        "/credits/balance".into(),
        format!("/webhooks/{hook}"),
    ];
    for path in lists.iter().chain(&singles) {
        sim.update_faults(|f| f.fail_next = 1).unwrap();
        let (status, code, _) = code(api.get(path).send().await.unwrap()).await;
        assert_eq!((status, code.as_str()), (503, "INTERNAL_ERROR"), "{path}");
        assert_eq!(api.get(path).send().await.unwrap().status(), 200, "{path}");
    }
    assert!(sim.drain(DEMO_KEY, Duration::from_secs(60)));
    let (status, code, _) = code(api.get("/comments").send().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (429, "RATE_LIMIT_EXCEEDED"));
    assert_eq!(sim.stats().faults_fired.malformed, lists.len() as u64);
    sim.shutdown().await;
}
