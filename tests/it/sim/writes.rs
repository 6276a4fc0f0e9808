//! Mutations: validation, prices and debits, the lifecycle, slots and patches.

use serde_json::Value;
use tokportal_sync::sim::{DEMO_CREDITS, DEMO_KEY, SimConfig, SimKey};

use super::support::{Api, CREATE, CREATE_COST, code, json, start, unlimited};

async fn create(api: &Api<'_>) -> Value {
    let response = api.post("/bundles", CREATE).send().await.unwrap();
    assert_eq!(response.status(), 201);
    json(response).await
}

#[tokio::test]
async fn creating_a_bundle_debits_its_price_and_puts_it_first() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let created = create(&api).await;
    assert_eq!(created["credits_charged"], CREATE_COST);
    assert_eq!(created["credits_remaining"], DEMO_CREDITS - CREATE_COST);
    assert_eq!(created["cost_breakdown"]["videos"], 6);
    let id = created["data"]["id"].as_str().unwrap();
    assert_eq!(created["data"]["status"], "pending_setup");
    assert_eq!(created["data"]["title"], "Launch \"v2\" ✨");
    let first = api.get_json("/bundles?per_page=1").await;
    assert_eq!(first["data"][0]["id"], id);
    assert_eq!(first["pagination"]["total"], 138);
    let balance = api.get_json("/credits/balance").await;
    assert_eq!(balance["data"]["balance"], DEMO_CREDITS - CREATE_COST);
    let history = api.get_json("/credits/history?per_page=1").await;
    assert_eq!(history["data"][0]["amount"], -CREATE_COST);
    assert_eq!(history["data"][0]["bundle_id"], id);
    let ledger = sim.ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!((ledger[0].method.as_str(), ledger[0].path.as_str()), ("POST", "/bundles"));
    assert_eq!((ledger[0].status, ledger[0].credits_debited), (201, CREATE_COST));
    assert_eq!(ledger[0].body_sha256, tokportal_sync::sim::ledger::body_sha256(CREATE.as_bytes()));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_create_the_balance_cannot_pay_is_402_and_debits_nothing() {
    let sim = start(SimConfig { keys: vec![SimKey::full(DEMO_KEY, 5)], ..unlimited() }).await;
    let api = Api::new(&sim);
    let (status, code, details) = code(api.post("/bundles", CREATE).send().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (402, "INSUFFICIENT_CREDITS"));
    assert_eq!(
        details,
        serde_json::json!({ "required": CREATE_COST, "available": 5, "missing": CREATE_COST - 5 })
    );
    assert_eq!(sim.key_stats(DEMO_KEY).unwrap().credits, 5);
    assert_eq!(sim.bundle_ids().len(), 137);
    sim.shutdown().await;
}

#[tokio::test]
async fn invalid_create_bodies_are_validation_errors_naming_the_field() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let cases = [
        ("not json", "body"),
        ("[1,2]", "body"),
        (r#"{"platform":"tiktok","country":"US"}"#, "bundle_type"),
        (r#"{"bundle_type":"account_only","platform":"myspace","country":"US"}"#, "platform"),
        (r#"{"bundle_type":"account_only","platform":"tiktok"}"#, "country"),
        (
            r#"{"bundle_type":"account_only","platform":"tiktok","country":"US","videos_quantity":2}"#,
            "videos_quantity",
        ),
        (r#"{"bundle_type":"videos_only","platform":"tiktok","country":"US"}"#, "videos_quantity"),
        (r#"{"bundle_type":"account_only","platform":"tiktok","country":"US","title":7}"#, "title"),
    ];
    for (body, field) in cases {
        let (status, code, details) = code(api.post("/bundles", body).send().await.unwrap()).await;
        assert_eq!((status, code.as_str()), (400, "VALIDATION_ERROR"), "{body}");
        assert_eq!(details["field"], field, "{body}");
    }
    assert_eq!(sim.key_stats(DEMO_KEY).unwrap().credits, DEMO_CREDITS);
    sim.shutdown().await;
}

#[tokio::test]
async fn bulk_creates_quantity_bundles_sharing_one_external_ref_and_charges_for_all() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let body = r#"{"quantity":4,"bundle_type":"account_only","platform":"instagram","country":"FR","external_ref":"order-9"}"#;
    let created = json(api.post("/bundles/bulk", body).send().await.unwrap()).await;
    assert_eq!(created["data"].as_array().unwrap().len(), 4);
    assert_eq!(created["credits_charged"], 40);
    let listed = api.get_json("/bundles?external_ref=order-9").await;
    assert_eq!(listed["pagination"]["total"], 4);
    let (status, _, details) =
        code(api.post("/bundles/bulk", &body.replace("4", "51")).send().await.unwrap()).await;
    assert_eq!((status, details["field"].as_str()), (400, Some("quantity")));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_dry_run_prices_the_create_and_changes_nothing() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let response = api.post("/bundles", CREATE).header("X-TokPortal-Dry-Run", "true").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body = json(response).await;
    assert_eq!(body["data"]["credits_required"], CREATE_COST);
    assert_eq!(body["credits_charged"], 0);
    assert_eq!(sim.key_stats(DEMO_KEY).unwrap().credits, DEMO_CREDITS);
    assert_eq!(sim.bundle_ids().len(), 137);
    sim.shutdown().await;
}

#[tokio::test]
async fn publish_and_unpublish_follow_the_documented_lifecycle() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let id = create(&api).await["data"]["id"].as_str().unwrap().to_string();
    let published = json(api.post(&format!("/bundles/{id}/publish"), "").send().await.unwrap()).await;
    assert_eq!(published["data"]["status"], "published");
    let (status, code_a, details) =
        code(api.post(&format!("/bundles/{id}/publish"), "").send().await.unwrap()).await;
    assert_eq!(
        (status, code_a.as_str(), &details["current_status"]),
        (409, "BUNDLE_ALREADY_PUBLISHED", &"published".into())
    );
    let back = json(api.post(&format!("/bundles/{id}/unpublish"), "").send().await.unwrap()).await;
    assert_eq!(back["data"]["status"], "pending_setup");
    let (status, code_b, details) =
        code(api.post(&format!("/bundles/{id}/unpublish"), "").send().await.unwrap()).await;
    assert_eq!((status, code_b.as_str()), (409, "BUNDLE_INVALID_STATUS"));
    assert_eq!(details["current_status"], "pending_setup");
    let dataset = sim.dataset();
    let completed =
        dataset["bundles"].as_array().unwrap().iter().find(|b| b["status"] == "completed").unwrap();
    let path = format!("/bundles/{}/publish", completed["id"].as_str().unwrap());
    let (status, code_c, details) = code(api.post(&path, "").send().await.unwrap()).await;
    assert_eq!(
        (status, code_c.as_str(), &details["current_status"]),
        (409, "BUNDLE_INVALID_STATUS", &"completed".into())
    );
    let (status, code_d, _) =
        code(api.post(&format!("/bundles/{}/publish", uuid::Uuid::nil()), "").send().await.unwrap()).await;
    assert_eq!((status, code_d.as_str()), (404, "BUNDLE_NOT_FOUND"));
    assert_eq!(sim.key_stats(DEMO_KEY).unwrap().credits, DEMO_CREDITS - CREATE_COST, "publishing is free");
    sim.shutdown().await;
}

#[tokio::test]
async fn adding_slots_debits_credits_and_appends_1_based_positions() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let id = create(&api).await["data"]["id"].as_str().unwrap().to_string();
    let added =
        json(api.post(&format!("/bundles/{id}/add-video-slots"), r#"{"quantity":2}"#).send().await.unwrap())
            .await;
    assert_eq!(
        (added["credits_charged"].as_i64(), added["data"]["videos_quantity"].as_i64()),
        (Some(4), Some(5))
    );
    // The breakdown has the shape of a creation's: every part, zero where not bought.
    assert_eq!(added["cost_breakdown"], serde_json::json!({"account":0,"videos":4,"edits":0,"total":4}));
    let videos = api.get_json(&format!("/bundles/{id}/videos")).await;
    let positions: Vec<i64> =
        videos["data"].as_array().unwrap().iter().map(|v| v["position"].as_i64().unwrap()).collect();
    assert_eq!(positions, vec![1, 2, 3, 4, 5]);
    let edits =
        json(api.post(&format!("/bundles/{id}/add-edit-slots"), r#"{"quantity":3}"#).send().await.unwrap())
            .await;
    assert_eq!(
        (edits["credits_charged"].as_i64(), edits["data"]["edits_quantity"].as_i64()),
        (Some(3), Some(3))
    );
    assert_eq!(edits["cost_breakdown"], serde_json::json!({"account":0,"videos":0,"edits":3,"total":3}));
    assert_eq!(sim.key_stats(DEMO_KEY).unwrap().credits, DEMO_CREDITS - CREATE_COST - 4 - 3);
    let (status, _, details) =
        code(api.post(&format!("/bundles/{id}/add-edit-slots"), "{}").send().await.unwrap()).await;
    assert_eq!((status, details["field"].as_str()), (400, Some("quantity")));
    let debits: Vec<i64> = sim.ledger().iter().map(|e| e.credits_debited).collect();
    assert_eq!(debits, vec![CREATE_COST, 4, 3, 0]);
    sim.shutdown().await;
}

#[tokio::test]
async fn patch_changes_only_the_given_fields_and_needs_at_least_one() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let id = create(&api).await["data"]["id"].as_str().unwrap().to_string();
    let patched =
        json(api.patch(&format!("/bundles/{id}"), r#"{"external_ref":"crm-1"}"#).send().await.unwrap()).await;
    assert_eq!(patched["data"]["external_ref"], "crm-1");
    assert_eq!(patched["data"]["title"], "Launch \"v2\" ✨");
    let cleared = json(api.patch(&format!("/bundles/{id}"), r#"{"title":null}"#).send().await.unwrap()).await;
    assert!(cleared["data"]["title"].is_null());
    let (status, code_a, _) =
        code(api.patch(&format!("/bundles/{id}"), r#"{"colour":"red"}"#).send().await.unwrap()).await;
    assert_eq!((status, code_a.as_str()), (400, "VALIDATION_ERROR"));
    let missing = format!("/bundles/{}", uuid::Uuid::nil());
    let (status, code_b, _) = code(api.patch(&missing, r#"{"title":"x"}"#).send().await.unwrap()).await;
    assert_eq!((status, code_b.as_str()), (404, "BUNDLE_NOT_FOUND"));
    sim.shutdown().await;
}

#[tokio::test]
async fn configuring_the_account_and_a_video_slot_changes_what_the_reads_show() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let id = create(&api).await["data"]["id"].as_str().unwrap().to_string();
    let account = api.http.put(api.url(&format!("/bundles/{id}/account"))).header("X-API-Key", &api.key);
    let account = json(account.body(r#"{"username":"zoë_42","bio":null}"#).send().await.unwrap()).await;
    assert_eq!(account["data"]["username"], "zoë_42");
    assert_eq!(api.get_json(&format!("/bundles/{id}/account")).await["data"]["username"], "zoë_42");
    let slot = json(
        api.patch(&format!("/bundles/{id}/videos/2"), r#"{"video_url":"https://cdn.test/a.mp4"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (slot["data"]["position"].as_i64(), slot["data"]["status"].as_str()),
        (Some(2), Some("configured"))
    );
    assert_eq!(api.get_json(&format!("/bundles/{id}")).await["data"]["videos_configured"], 1);
    for position in ["0", "4", "two"] {
        let response = api
            .patch(&format!("/bundles/{id}/videos/{position}"), r#"{"caption":"x"}"#)
            .send()
            .await
            .unwrap();
        let (status, code, _) = code(response).await;
        assert_eq!((status, code.as_str()), (404, "VIDEO_NOT_FOUND"), "{position}");
    }
    let (status, _, _) =
        code(api.patch(&format!("/bundles/{id}/videos/1"), "{}").send().await.unwrap()).await;
    assert_eq!(status, 400);
    sim.shutdown().await;
}
