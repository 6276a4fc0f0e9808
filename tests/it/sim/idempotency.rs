//! Every idempotency outcome the reference lists, plus the ones it implies.

use std::time::{Duration, Instant};

use tokportal_sync::sim::idempotency::{Begin, IdempotencyStore, Stored, request_hash};
use tokportal_sync::sim::{DEMO_CREDITS, DEMO_KEY, SimConfig, SimKey};

use super::support::{Api, CREATE, CREATE_COST, code, header, json, start, unlimited, until};

#[tokio::test]
async fn the_same_request_with_the_same_key_is_replayed_and_executes_once() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let first = api.post("/bundles", CREATE).header("Idempotency-Key", "op-1").send().await.unwrap();
    assert_eq!(first.status(), 201);
    assert_eq!(header(&first, "idempotent-replayed"), None);
    let first = json(first).await;
    let again = api.post("/bundles", CREATE).header("Idempotency-Key", "op-1").send().await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(header(&again, "idempotent-replayed"), Some("true"));
    assert!(header(&again, "x-ratelimit-limit").is_some());
    assert_eq!(json(again).await, first, "the stored answer, byte for byte");
    let stats = sim.key_stats(DEMO_KEY).unwrap();
    assert_eq!((stats.executions, stats.replays, stats.credits), (1, 1, DEMO_CREDITS - CREATE_COST));
    assert_eq!(sim.ledger().len(), 1);
    assert_eq!(sim.bundle_ids().len(), 138);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_same_key_with_another_body_or_path_is_idempotency_key_reused() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    api.post("/bundles", CREATE).header("Idempotency-Key", "op-1").send().await.unwrap();
    let other_body = CREATE.replace("tiktok", "instagram");
    let (status, code_a, _) =
        code(api.post("/bundles", &other_body).header("Idempotency-Key", "op-1").send().await.unwrap()).await;
    assert_eq!((status, code_a.as_str()), (409, "IDEMPOTENCY_KEY_REUSED"));
    let (status, code_b, _) =
        code(api.post("/bundles/bulk", CREATE).header("Idempotency-Key", "op-1").send().await.unwrap()).await;
    assert_eq!((status, code_b.as_str()), (409, "IDEMPOTENCY_KEY_REUSED"));
    // Byte-exact: the same JSON with other whitespace is another body.
    let spaced = CREATE.replace(',', ", ");
    let (status, _, _) =
        code(api.post("/bundles", &spaced).header("Idempotency-Key", "op-1").send().await.unwrap()).await;
    assert_eq!(status, 409);
    assert_eq!(sim.ledger().len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_duplicate_sent_while_the_first_executes_is_in_progress_then_replayed() {
    let sim = start(unlimited()).await;
    sim.update_faults(|f| f.slow_ms = 60_000).unwrap();
    let api = Api::new(&sim);
    let first = tokio::spawn(api.post("/bundles", CREATE).header("Idempotency-Key", "slow-1").send());
    until(|| sim.key_stats(DEMO_KEY).unwrap().in_flight == 1).await;
    let (status, code, _) =
        code(api.post("/bundles", CREATE).header("Idempotency-Key", "slow-1").send().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (409, "IDEMPOTENCY_KEY_IN_PROGRESS"));
    assert!(sim.ledger().is_empty(), "the first one has not executed yet");
    sim.release_slow();
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.status(), 201);
    let replay = api.post("/bundles", CREATE).header("Idempotency-Key", "slow-1").send().await.unwrap();
    assert_eq!(header(&replay, "idempotent-replayed"), Some("true"));
    assert_eq!(sim.ledger().len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn concurrent_duplicates_execute_exactly_once() {
    let sim = start(unlimited()).await;
    sim.update_faults(|f| f.slow_ms = 50).unwrap();
    let api = Api::new(&sim);
    let sends: Vec<_> = (0..12)
        .map(|_| tokio::spawn(api.post("/bundles", CREATE).header("Idempotency-Key", "race").send()))
        .collect();
    let mut outcomes = Vec::new();
    for send in sends {
        let response = send.await.unwrap().unwrap();
        let replayed = header(&response, "idempotent-replayed").is_some();
        let (status, code, _) = code(response).await;
        outcomes.push((status, code, replayed));
    }
    let executed = outcomes.iter().filter(|(s, _, replayed)| *s == 201 && !replayed).count();
    assert_eq!(executed, 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|(s, c, r)| (*s == 201) || (*s == 409 && c == "IDEMPOTENCY_KEY_IN_PROGRESS" && !r)),
        "{outcomes:?}"
    );
    assert_eq!(sim.ledger().len(), 1);
    assert_eq!(sim.key_stats(DEMO_KEY).unwrap().credits, DEMO_CREDITS - CREATE_COST);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_key_of_256_characters_is_too_long_and_255_is_fine() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let (status, code, _) =
        code(api.post("/bundles", CREATE).header("Idempotency-Key", "k".repeat(256)).send().await.unwrap())
            .await;
    assert_eq!((status, code.as_str()), (400, "IDEMPOTENCY_KEY_TOO_LONG"));
    assert!(sim.ledger().is_empty());
    let ok = api.post("/bundles", CREATE).header("Idempotency-Key", "k".repeat(255)).send().await.unwrap();
    assert_eq!(ok.status(), 201);
    sim.shutdown().await;
}

#[tokio::test]
async fn idempotency_keys_are_scoped_to_the_api_key() {
    let keys = vec![SimKey::full(DEMO_KEY, 100), SimKey::full("sk_other", 100)];
    let sim = start(SimConfig { keys, ..unlimited() }).await;
    for key in [DEMO_KEY, "sk_other"] {
        let response =
            Api::with_key(&sim, key).post("/bundles", CREATE).header("Idempotency-Key", "same").send().await;
        let response = response.unwrap();
        assert_eq!(response.status(), 201);
        assert_eq!(header(&response, "idempotent-replayed"), None);
    }
    assert_eq!(sim.ledger().len(), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn without_a_key_every_request_executes_and_charges_again() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    for _ in 0..2 {
        assert_eq!(api.post("/bundles", CREATE).send().await.unwrap().status(), 201);
    }
    assert_eq!(sim.key_stats(DEMO_KEY).unwrap().credits, DEMO_CREDITS - 2 * CREATE_COST);
    assert_eq!(sim.ledger().len(), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_expired_key_executes_again() {
    let sim = start(SimConfig { idempotency_ttl: Duration::ZERO, ..unlimited() }).await;
    let api = Api::new(&sim);
    for _ in 0..2 {
        let response =
            api.post("/bundles", CREATE).header("Idempotency-Key", "short-lived").send().await.unwrap();
        assert_eq!(header(&response, "idempotent-replayed"), None);
    }
    assert_eq!(sim.ledger().len(), 2);
    sim.shutdown().await;
}

#[test]
fn a_stored_answer_lives_exactly_as_long_as_the_ttl() {
    let (t0, ttl) = (Instant::now(), Duration::from_secs(24 * 3600));
    let mut store = IdempotencyStore::default();
    let request = request_hash("POST", "/bundles", b"{}");
    let Begin::Execute(token) = store.begin("k", request, t0, ttl) else { panic!("first use executes") };
    assert!(matches!(store.begin("k", request, t0, ttl), Begin::InProgress));
    store.finish("k", token, stored(), t0);
    assert!(matches!(store.begin("k", request, t0 + ttl - Duration::from_secs(1), ttl), Begin::Replay(_)));
    assert!(matches!(store.begin("k", request_hash("POST", "/bundles", b"[]"), t0, ttl), Begin::Reused));
    assert!(matches!(store.begin("k", request, t0 + ttl, ttl), Begin::Execute(_)));
}

#[tokio::test]
async fn error_answers_are_stored_and_replayed_like_any_other() {
    let sim = start(SimConfig { keys: vec![SimKey::full(DEMO_KEY, 1)], ..unlimited() }).await;
    let api = Api::new(&sim);
    let (status, code_a, _) =
        code(api.post("/bundles", CREATE).header("Idempotency-Key", "poor").send().await.unwrap()).await;
    assert_eq!((status, code_a.as_str()), (402, "INSUFFICIENT_CREDITS"));
    let replay = api.post("/bundles", CREATE).header("Idempotency-Key", "poor").send().await.unwrap();
    assert_eq!(header(&replay, "idempotent-replayed"), Some("true"));
    assert_eq!(code(replay).await.1, "INSUFFICIENT_CREDITS");
    assert_eq!(sim.ledger().len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn sensitive_operations_refuse_an_idempotency_key() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let body = r#"{"url":"https://example.test/hook","events":["bundle.created"]}"#;
    for path in
        ["/webhooks", "/upload/video", "/accounts/abc/reveal-credentials", "/analytics/export/reports"]
    {
        let (status, code, _) =
            code(api.post(path, body).header("Idempotency-Key", "nope").send().await.unwrap()).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "IDEMPOTENCY_KEY_NOT_ALLOWED_FOR_SENSITIVE_RESPONSE"),
            "{path}"
        );
    }
    let created = json(api.post("/webhooks", body).send().await.unwrap()).await;
    assert!(created["data"]["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(api.post("/upload/video", body).send().await.unwrap().status(), 404, "not simulated");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_dry_run_stores_nothing_so_the_real_request_under_its_key_executes() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    for path in ["/bundles", "/bundles/bulk"] {
        let body =
            if path == "/bundles" { CREATE.to_string() } else { CREATE.replace('{', r#"{"quantity":2,"#) };
        let preview = api
            .post(path, &body)
            .header("Idempotency-Key", format!("op9{path}"))
            .header("X-TokPortal-Dry-Run", "true")
            .send()
            .await
            .unwrap();
        assert_eq!(preview.status(), 200, "{path}");
        let preview = json(preview).await;
        assert_eq!(preview["data"]["dry_run"], true, "{path}: {preview}");
        assert!(preview["data"]["credits_required"].as_i64().unwrap() > 0, "{path}: {preview}");
        assert!(sim.ledger().is_empty(), "{path}: a dry run executes nothing");
        assert_eq!(sim.key_stats(DEMO_KEY).unwrap().executions, 0, "{path}");
    }
    let real = api.post("/bundles", CREATE).header("Idempotency-Key", "op9/bundles").send().await.unwrap();
    assert_eq!(real.status(), 201);
    assert_eq!(header(&real, "idempotent-replayed"), None);
    assert!(json(real).await["data"]["id"].is_string());
    let stats = sim.key_stats(DEMO_KEY).unwrap();
    assert_eq!((stats.executions, stats.replays, stats.credits), (1, 0, DEMO_CREDITS - CREATE_COST));
    assert_eq!(sim.ledger().len(), 1);
    assert_eq!(sim.bundle_ids().len(), 138);
    sim.shutdown().await;
}

fn stored() -> Stored {
    Stored { status: axum::http::StatusCode::CREATED, content_type: None, body: "{}".into() }
}

#[test]
fn a_running_entry_never_expires_so_a_duplicate_of_a_long_mutation_waits() {
    let (t0, ttl) = (Instant::now(), Duration::from_secs(60));
    let mut store = IdempotencyStore::default();
    let request = request_hash("POST", "/bundles", b"{}");
    let Begin::Execute(token) = store.begin("k", request, t0, ttl) else { panic!("first use executes") };
    assert!(matches!(store.begin("k", request, t0 + 10 * ttl, ttl), Begin::InProgress));
    assert!(matches!(store.begin("k", request_hash("GET", "/x", b""), t0 + 10 * ttl, ttl), Begin::Reused));
    let done = t0 + 10 * ttl;
    store.finish("k", token, stored(), done);
    assert!(matches!(store.begin("k", request, done + ttl / 2, ttl), Begin::Replay(_)), "lives from its end");
    assert!(matches!(store.begin("k", request, done + ttl, ttl), Begin::Execute(_)));
}

#[test]
fn an_execution_begun_before_a_reset_cannot_finish_or_abandon_the_new_entry() {
    let (t0, ttl) = (Instant::now(), Duration::from_secs(60));
    let mut store = IdempotencyStore::default();
    let request = request_hash("POST", "/bundles", b"{}");
    let Begin::Execute(old) = store.begin("k", request, t0, ttl) else { panic!("first use executes") };
    store.clear();
    let Begin::Execute(new) = store.begin("k", request, t0, ttl) else { panic!("after a reset it executes") };
    assert_ne!(old, new);
    store.finish("k", old, stored(), t0);
    assert!(matches!(store.begin("k", request, t0, ttl), Begin::InProgress), "the old answer is not stored");
    store.abandon("k", old);
    assert!(matches!(store.begin("k", request, t0, ttl), Begin::InProgress), "nor is the new entry dropped");
    store.finish("k", new, stored(), t0);
    assert!(matches!(store.begin("k", request, t0, ttl), Begin::Replay(_)));
    store.abandon("k", new);
    assert!(matches!(store.begin("k", request, t0, ttl), Begin::Replay(_)), "a finished entry stays");
}

#[test]
fn expired_answers_are_swept_once_the_store_grows_and_running_ones_stay() {
    let (t0, ttl) = (Instant::now(), Duration::from_secs(1));
    let mut store = IdempotencyStore::default();
    let request = request_hash("POST", "/bundles", b"{}");
    assert!(matches!(store.begin("long", request, t0, ttl), Begin::Execute(_)));
    for i in 0..1023 {
        let Begin::Execute(token) = store.begin(&format!("k{i}"), request, t0, ttl) else {
            panic!("new key")
        };
        store.finish(&format!("k{i}"), token, stored(), t0);
    }
    assert_eq!(store.len(), 1024);
    assert!(matches!(store.begin("new", request, t0 + 2 * ttl, ttl), Begin::Execute(_)));
    assert_eq!(store.len(), 2, "only the running entry and the new one are left");
    assert!(matches!(store.begin("long", request, t0 + 2 * ttl, ttl), Begin::InProgress));
}

#[tokio::test]
async fn a_write_no_endpoint_answers_is_not_an_execution_and_stores_nothing() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let (status, code_a, _) =
        code(api.post("/nowhere", "{}").header("Idempotency-Key", "lost").send().await.unwrap()).await;
    assert_eq!((status, code_a.as_str()), (404, "NOT_FOUND"));
    let (status, code_b, _) = code(api.post("/credits/balance", "{}").send().await.unwrap()).await;
    assert_eq!((status, code_b.as_str()), (405, "METHOD_NOT_ALLOWED"));
    assert!(sim.ledger().is_empty(), "{:?}", sim.ledger());
    let stats = sim.key_stats(DEMO_KEY).unwrap();
    assert_eq!((stats.executions, stats.in_flight, stats.requests), (0, 0, 2));
    let again = api.post("/nowhere", "{}").header("Idempotency-Key", "lost").send().await.unwrap();
    assert_eq!(header(&again, "idempotent-replayed"), None, "nothing was stored");
    sim.shutdown().await;
}
