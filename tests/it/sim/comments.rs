//! `GET /comments` and `GET /comments/{id}`: pages, filters, the not-found
//! codes, and tasks inserted, changed and deleted through the handle.

use serde_json::{Map, Value, json};
use tokportal_sync::sim::SimConfig;

use super::accounts::walk;
use super::support::{Api, code, start, unlimited};

#[tokio::test]
async fn comment_tasks_are_listed_in_pages_and_filtered_by_status_and_account() {
    let sim = start(SimConfig { bundles: 300, ..unlimited() }).await;
    let api = Api::new(&sim);
    let (items, _) = walk(&api, "/comments", 9).await;
    assert_eq!(items, sim.comments());
    let accounts = sim.saved_accounts();
    assert!(items.len() > accounts.len(), "a few per account");
    for comment in items.values() {
        for field in ["id", "saved_account_id", "status", "post_url", "text", "created_at", "updated_at"] {
            assert!(comment.get(field).is_some(), "{field} in {comment}");
        }
        assert!(accounts.contains_key(comment["saved_account_id"].as_str().unwrap()));
    }
    let count = |f: &dyn Fn(&Value) -> bool| items.values().filter(|c| f(c)).count();
    for status in ["pending", "in_progress", "posted", "verified", "disputed", "cancelled"] {
        let expected = count(&|c| c["status"] == status);
        assert!(expected > 0, "{status} is seeded");
        assert_eq!(walk(&api, &format!("/comments?status={status}"), 10).await.0.len(), expected, "{status}");
    }
    let both = count(&|c| c["status"] == "pending" || c["status"] == "posted");
    assert_eq!(walk(&api, "/comments?status=pending,posted", 10).await.0.len(), both);
    assert_eq!(api.get_json("/comments?status=archived").await["pagination"]["total"], 0);
    let account = items.values().next().unwrap()["saved_account_id"].as_str().unwrap().to_string();
    let theirs = walk(&api, &format!("/comments?saved_account_id={account}"), 2).await.0;
    assert_eq!(theirs.len(), count(&|c| c["saved_account_id"] == account.as_str()));
    for unknown in [uuid::Uuid::nil().to_string(), "acc_1".to_string()] {
        let response = api.get(&format!("/comments?saved_account_id={unknown}")).send().await.unwrap();
        let (status, code, details) = code(response).await;
        assert_eq!((status, code.as_str()), (404, "SAVED_ACCOUNT_NOT_FOUND"));
        assert_eq!(details["saved_account_id"], unknown.as_str());
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn one_comment_task_by_id_changes_bump_updated_at_and_deleted_ones_are_comment_not_found() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let (id, item) = sim.comments().into_iter().next().unwrap();
    assert_eq!(api.get_json(&format!("/comments/{id}")).await["data"], item);
    let set: Map<String, Value> = json!({"status": "disputed"}).as_object().unwrap().clone();
    assert!(sim.change_comment(&id, set));
    assert!(!sim.change_comment("nope", Map::new()));
    let changed = api.get_json(&format!("/comments/{id}")).await["data"].clone();
    assert_eq!(changed["status"], "disputed");
    assert!(changed["updated_at"].as_str().unwrap() > item["updated_at"].as_str().unwrap());
    let new = sim.insert_comments(2);
    assert_eq!(new.len(), 2);
    let first = api.get_json("/comments?per_page=2").await;
    let listed: Vec<&str> =
        first["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(listed, [new[1].as_str(), new[0].as_str()], "the newest first");
    assert_eq!(first["data"][0]["status"], "pending");
    assert_eq!(sim.delete_comments(&[id.clone(), "nope".into()]), vec![id.clone()]);
    for path in [format!("/comments/{id}"), format!("/comments/{}", uuid::Uuid::nil()), "/comments/x".into()]
    {
        let (status, code, _) = code(api.get(&path).send().await.unwrap()).await;
        assert_eq!((status, code.as_str()), (404, "COMMENT_NOT_FOUND"), "{path}");
    }
    assert!(!sim.comments().contains_key(&id));
    sim.shutdown().await;
}
