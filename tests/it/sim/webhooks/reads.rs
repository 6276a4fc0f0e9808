//! `GET /webhooks/{id}` (the one read that shows the secret), the filters of
//! `GET /webhooks` and of the deliveries list, the deliveries' shape, and
//! `GET /credits/balance`.

use serde_json::{Value, json};
use tokportal_sync::sim::{DEMO_KEY, DeliveryState, SimConfig, SimKey, WebhookConfig};

use super::super::support::{Api, code, start, unlimited, until};
use super::{Receiver, register};

const OTHER: &str = "sk_other";

fn ids(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn only_the_detail_shows_the_secret_and_another_keys_endpoint_is_webhook_not_found() {
    let keys = vec![SimKey::full(DEMO_KEY, 100), SimKey::full(OTHER, 100)];
    let sim = start(SimConfig { keys, ..unlimited() }).await;
    let (mine, theirs) = (Api::new(&sim), Api::with_key(&sim, OTHER));
    let (id, secret) = register(&mine, "https://one.example.test/hooks", json!(["bundle.created"])).await;
    let detail = mine.get_json(&format!("/webhooks/{id}")).await["data"].clone();
    assert_eq!((&detail["id"], &detail["secret"]), (&json!(id), &json!(secret)));
    assert_eq!((&detail["enabled"], &detail["events"]), (&json!(true), &json!(["bundle.created"])));
    let listed = mine.get("/webhooks").send().await.unwrap().text().await.unwrap();
    assert!(!listed.contains(&secret) && !listed.contains("secret"), "{listed}");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let mut without = detail.as_object().unwrap().clone();
    without.remove("secret");
    assert_eq!(listed["data"][0], Value::Object(without), "the list item is the detail less its secret");
    for (api, path) in
        [(&theirs, format!("/webhooks/{id}")), (&mine, format!("/webhooks/{}", uuid::Uuid::nil()))]
    {
        let (status, code, details) = code(api.get(&path).send().await.unwrap()).await;
        assert_eq!((status, code.as_str()), (404, "WEBHOOK_NOT_FOUND"), "{path}");
        assert!(details["webhook_id"].is_string());
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn endpoints_filter_on_enabled_and_on_the_events_they_get() {
    let sim = start(unlimited()).await;
    let receiver = Receiver::start().await;
    let api = Api::new(&sim);
    let (all, _) = register(&api, &receiver.url, json!([])).await;
    let (published, _) = register(&api, "https://p.example.test/h", json!(["bundle.published"])).await;
    let (off, _) = register(&api, &receiver.url, json!([])).await;
    assert!(sim.set_webhook_enabled(&off, false) && !sim.set_webhook_enabled("nope", false));
    let cases = [
        ("enabled=true", vec![published.clone(), all.clone()]),
        ("enabled=false", vec![off.clone()]),
        ("event=bundle.published", vec![off.clone(), published.clone(), all.clone()]),
        ("event=bundle.created", vec![off.clone(), all.clone()]),
        ("event=bundle.created&enabled=true", vec![all.clone()]),
        ("enabled=maybe", vec![]),
    ];
    for (query, expected) in cases {
        assert_eq!(ids(&api.get_json(&format!("/webhooks?{query}")).await), expected, "{query}");
    }
    assert_eq!(api.get_json(&format!("/webhooks/{off}")).await["data"]["enabled"], false);
    sim.insert_bundles(1);
    receiver.wait_for(1).await;
    let event = &sim.webhook_events()[0];
    let to: Vec<&str> = event.deliveries.iter().map(|d| d.endpoint_id.as_str()).collect();
    assert_eq!(to, [all.as_str()], "a disabled endpoint gets nothing");
    sim.shutdown().await;
}

#[tokio::test]
async fn deliveries_say_whether_they_succeeded_and_filter_on_success_and_event_type() {
    let webhooks = WebhookConfig { max_attempts: 1, ..WebhookConfig::default() };
    let sim = start(SimConfig { webhooks, ..unlimited() }).await;
    let receiver = Receiver::start().await;
    receiver.fail_next(1);
    let api = Api::new(&sim);
    let (id, _) = register(&api, &receiver.url, json!([])).await;
    sim.insert_bundles(2);
    until(|| sim.webhook_events().iter().all(|e| e.deliveries[0].state.is_final())).await;
    let events = sim.webhook_events();
    assert_eq!(events[0].deliveries[0].state, DeliveryState::Failed);
    let served = sim.webhook_deliveries_served(&id).unwrap();
    let listed = api.get_json(&format!("/webhooks/{id}/deliveries")).await;
    assert_eq!(listed["data"], json!(served));
    let failed = api.get_json(&format!("/webhooks/{id}/deliveries?success=false")).await;
    assert_eq!(failed["pagination"]["total"], 1);
    let item = &failed["data"][0];
    for field in ["id", "webhook_id", "event_id", "event_type", "created_at"] {
        assert!(item[field].is_string(), "{field} in {item}");
    }
    assert_eq!((&item["webhook_id"], &item["event_id"]), (&json!(id), &json!(events[0].id)));
    assert_eq!(
        (&item["success"], &item["status_code"], &item["attempts"], &item["error"], &item["delivered_at"]),
        (&json!(false), &json!(500), &json!(1), &json!("HTTP 500"), &Value::Null)
    );
    let ok = api.get_json(&format!("/webhooks/{id}/deliveries?success=true")).await;
    assert_eq!(ids(&ok), [served[0]["id"].as_str().unwrap()]);
    assert_eq!((&ok["data"][0]["status_code"], &ok["data"][0]["error"]), (&json!(200), &Value::Null));
    assert!(ok["data"][0]["delivered_at"].is_string());
    let created =
        api.get_json(&format!("/webhooks/{id}/deliveries?event_type=bundle.created&per_page=1")).await;
    assert_eq!(
        (&created["pagination"]["total"], &created["pagination"]["total_pages"]),
        (&json!(2), &json!(2))
    );
    for query in ["event_type=video.created", "success=maybe"] {
        let none = api.get_json(&format!("/webhooks/{id}/deliveries?{query}")).await;
        assert_eq!(none["pagination"]["total"], 0, "{query}");
    }
    assert_eq!(sim.webhook_deliveries_served("nope"), None);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_balance_names_its_currency_and_when_it_last_moved() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let before = api.get_json("/credits/balance").await["data"].clone();
    let history = api.get_json("/credits/history?per_page=1").await;
    assert_eq!(before["currency"], "credits");
    assert_eq!(before["updated_at"], history["data"][0]["created_at"], "the newest entry's time");
    let created = api.post("/bundles", super::super::support::CREATE).send().await.unwrap();
    assert_eq!(created.status(), 201);
    let after = api.get_json("/credits/balance").await["data"].clone();
    let history = api.get_json("/credits/history?per_page=1").await;
    assert_eq!(after["balance"], before["balance"].as_i64().unwrap() - super::super::support::CREATE_COST);
    assert_eq!(after["updated_at"], history["data"][0]["created_at"]);
    assert!(after["updated_at"].as_str().unwrap() > before["updated_at"].as_str().unwrap());
    sim.shutdown().await;
}
