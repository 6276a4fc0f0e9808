//! The delivered accounts: `GET /accounts` (pages, filters), `GET /accounts/{id}`,
//! `GET /accounts/{id}/analytics` moving with the simulator's day, and the
//! bundles' `saved_account_id` naming pool accounts.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use tokportal_sync::sim::SimConfig;

use super::support::{Api, code, start, unlimited};

/// Every item of a list, walked `per_page` at a time, keyed by id; also the pages read.
pub async fn walk(api: &Api<'_>, path: &str, per_page: u64) -> (BTreeMap<String, Value>, u64) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut items = BTreeMap::new();
    let mut page = 1;
    loop {
        let body = api.get_json(&format!("{path}{sep}page={page}&per_page={per_page}")).await;
        let data = body["data"].as_array().expect("a list page").clone();
        assert_eq!(body["pagination"]["page"], page);
        assert_eq!(body["pagination"]["per_page"], per_page);
        for item in data {
            let id = item["id"].as_str().unwrap().to_string();
            assert!(items.insert(id, item).is_none(), "no item twice");
        }
        let total = body["pagination"]["total"].as_u64().unwrap();
        let total_pages = body["pagination"]["total_pages"].as_u64().unwrap();
        assert_eq!(total_pages, total.div_ceil(per_page));
        if page >= total_pages {
            assert_eq!(items.len() as u64, total, "every item once");
        }
        if page >= total_pages {
            return (items, page);
        }
        page += 1;
    }
}

fn set(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

#[tokio::test]
async fn the_pool_is_one_account_for_five_bundles_unless_told_and_seeded_like_the_bundles() {
    let (a, b) = (start(unlimited()).await, start(unlimited()).await);
    let c = start(SimConfig { bundles: 10, accounts: Some(3), ..unlimited() }).await;
    let d = start(SimConfig { bundles: 3, ..unlimited() }).await;
    assert_eq!(a.saved_accounts().len(), 137 / 5);
    assert_eq!(a.saved_accounts(), b.saved_accounts());
    assert_eq!(c.saved_accounts().len(), 3);
    assert_eq!(d.saved_accounts().len(), 1, "at least one");
    let e = tokportal_sync::sim::start(SimConfig { accounts: Some(0), ..unlimited() }).await;
    assert!(e.is_err(), "an empty pool is refused");
    for sim in [a, b, c, d] {
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn accounts_are_listed_in_pages_exactly_as_the_handle_holds_them() {
    let sim = start(SimConfig { bundles: 200, ..unlimited() }).await;
    let api = Api::new(&sim);
    let (items, pages) = walk(&api, "/accounts", 7).await;
    assert_eq!(items, sim.saved_accounts());
    assert_eq!(pages, 40usize.div_ceil(7) as u64);
    let first = api.get_json("/accounts?per_page=3").await;
    let created: Vec<&str> =
        first["data"].as_array().unwrap().iter().map(|a| a["created_at"].as_str().unwrap()).collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "newest first: {created:?}");
    let item = &first["data"][0];
    for field in [
        "id",
        "platform",
        "country",
        "username",
        "display_name",
        "status",
        "banned",
        "banned_at",
        "created_at",
    ] {
        assert!(item.get(field).is_some(), "{field} in {item}");
    }
    let statuses: Vec<&str> = items.values().map(|a| a["status"].as_str().unwrap()).collect();
    for status in ["active", "warming", "banned", "suspended", "pending_review"] {
        assert!(statuses.contains(&status), "{status} is seeded");
    }
    let past = api.get_json("/accounts?page=99").await;
    assert_eq!((past["data"].as_array().unwrap().len(), &past["pagination"]["total"]), (0, &json!(40)));
    for bad in ["/accounts?per_page=101", "/accounts?page=0", "/accounts?page=x"] {
        let (status, code, _) = code(api.get(bad).send().await.unwrap()).await;
        assert_eq!((status, code.as_str()), (400, "VALIDATION_ERROR"), "{bad}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn account_filters_match_exactly_and_unknown_values_match_nothing() {
    let sim = start(SimConfig { bundles: 300, ..unlimited() }).await;
    let api = Api::new(&sim);
    let all = sim.saved_accounts();
    let count = |f: &dyn Fn(&Value) -> bool| all.values().filter(|a| f(a)).count() as u64;
    let cases: Vec<(&str, u64)> = vec![
        ("platform=instagram", count(&|a| a["platform"] == "instagram")),
        ("country=USA", count(&|a| a["country"] == "USA")),
        ("banned=true", count(&|a| a["banned"] == true)),
        ("banned=false", count(&|a| a["banned"] == false)),
        (
            "platform=tiktok&country=FR&banned=false",
            count(&|a| a["platform"] == "tiktok" && a["country"] == "FR" && a["banned"] == false),
        ),
        ("platform=myspace", 0),
        ("banned=maybe", 0),
    ];
    for (query, expected) in cases {
        let (items, _) = walk(&api, &format!("/accounts?{query}"), 10).await;
        assert_eq!(items.len() as u64, expected, "{query}");
    }
    assert!(count(&|a| a["banned"] == true) > 0 && count(&|a| a["banned"] == false) > 0);
    assert!(
        all.values()
            .filter(|a| a["banned"] == true)
            .all(|a| a["status"] == "banned" && a["banned_at"].is_string())
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn one_account_by_id_and_account_not_found_for_unknown_malformed_or_deleted_ids() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let (id, item) = sim.saved_accounts().into_iter().next().unwrap();
    assert_eq!(api.get_json(&format!("/accounts/{id}")).await["data"], item);
    assert!(sim.change_saved_account(&id, set(json!({"status": "warming", "x_note": "ünïcode"}))));
    let changed = api.get_json(&format!("/accounts/{id}")).await["data"].clone();
    assert_eq!(
        (&changed["status"], &changed["x_note"], &changed["id"]),
        (&json!("warming"), &json!("ünïcode"), &json!(id))
    );
    assert_eq!(sim.saved_accounts()[&id], changed);
    assert!(!sim.change_saved_account(&uuid::Uuid::nil().to_string(), Map::new()));
    assert_eq!(sim.delete_saved_accounts(&[id.clone(), "nope".into()]), vec![id.clone()]);
    for path in [
        format!("/accounts/{id}"),
        format!("/accounts/{id}/analytics"),
        format!("/accounts/{}", uuid::Uuid::nil()),
        "/accounts/acc_123".to_string(),
    ] {
        let (status, code, _) = code(api.get(&path).send().await.unwrap()).await;
        assert_eq!((status, code.as_str()), (404, "ACCOUNT_NOT_FOUND"), "{path}");
    }
    assert!(!sim.saved_accounts().contains_key(&id));
    assert_eq!(api.get_json("/accounts").await["pagination"]["total"], 137 / 5 - 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn every_delivered_bundle_names_a_pool_account_of_its_platform_and_country_everywhere() {
    let sim = start(SimConfig { bundles: 400, ..unlimited() }).await;
    let api = Api::new(&sim);
    let accounts = sim.saved_accounts();
    let mut delivered = 0;
    for (id, bundle) in sim.snapshot() {
        let Some(saved) = bundle.item["saved_account_id"].as_str() else {
            assert!(bundle.account["saved_account_id"].is_null(), "{id}");
            continue;
        };
        delivered += 1;
        let account = &accounts[saved];
        assert_eq!(
            (&account["platform"], &account["country"]),
            (&bundle.item["platform"], &bundle.item["country"])
        );
        assert_eq!(bundle.account["saved_account_id"], saved);
        assert_eq!(bundle.account["username"], account["username"]);
        if delivered <= 3 {
            let detail = api.get_json(&format!("/bundles/{id}")).await;
            assert_eq!(detail["data"]["saved_account_id"], saved);
            assert_eq!(detail["data"]["account"]["saved_account_id"], saved);
            let child = api.get_json(&format!("/bundles/{id}/account")).await;
            assert_eq!(child["data"]["saved_account_id"], saved);
            assert_eq!(api.get_json(&format!("/accounts/{saved}")).await["data"], *account);
        }
    }
    assert!(delivered > 50, "{delivered} delivered bundles");
    // A change of the bundle's account keeps the link (the children are stored from then on).
    let (id, _) = sim.snapshot().into_iter().find(|(_, b)| b.item["saved_account_id"].is_string()).unwrap();
    let before = sim.bundle_account(&id).unwrap();
    assert!(sim.change_account(&id, set(json!({"bio": "changed"}))));
    let after = sim.bundle_account(&id).unwrap();
    assert_eq!(
        (&after["saved_account_id"], &after["username"]),
        (&before["saved_account_id"], &before["username"])
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn analytics_stay_the_same_within_a_day_and_move_when_the_day_advances() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let id = sim.saved_accounts().into_keys().next().unwrap();
    let path = format!("/accounts/{id}/analytics");
    let today = api.get_json(&path).await["data"].clone();
    assert_eq!(api.get_json(&path).await["data"], today, "stable within a day");
    assert_eq!(sim.analytics(&id), Some(today.clone()));
    assert_eq!(today["account_id"], id.as_str());
    let date = chrono::Utc::now().date_naive();
    assert!(
        [date, date.succ_opt().unwrap()].iter().any(|d| today["date"] == d.format("%Y-%m-%d").to_string())
    );
    for field in ["followers", "following", "likes", "videos", "views"] {
        assert!(today[field].is_u64(), "{field}");
    }
    assert!(today["engagement_rate"].is_f64() && today["updated_at"].is_string());
    sim.advance_day(2);
    let later = api.get_json(&path).await["data"].clone();
    assert_ne!(later["date"], today["date"]);
    assert!(
        later["followers"].as_u64() > today["followers"].as_u64()
            && later["views"].as_u64() > today["views"].as_u64()
    );
    assert_eq!(sim.analytics(&id), Some(later));
    assert_eq!(sim.analytics("nope"), None);
    sim.reset();
    assert_eq!(api.get_json(&path).await["data"]["date"], today["date"], "a reset goes back to today");
    sim.shutdown().await;
}
