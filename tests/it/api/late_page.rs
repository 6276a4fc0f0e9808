//! A page answered late while the pages after it, read ahead, were answered
//! before bundles were created at the head (a 503 retried after its backoff,
//! say): the walk reads the page after it again, not every page read ahead
//! after it, and still delivers every bundle once.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Query;
use axum::routing::get;
use tokportal_sync::api::Walk;

use super::support::{budget_options, client, scripted};

const PER_PAGE: usize = 10;
const PAGES: usize = 20;

#[derive(Default)]
struct List {
    ids: Vec<String>,
    /// Requests for each page, 503s included.
    asked: HashMap<usize, usize>,
}

fn page_of(list: &List, page: usize) -> serde_json::Value {
    let data: Vec<_> = list
        .ids
        .iter()
        .skip((page - 1) * PER_PAGE)
        .take(PER_PAGE)
        .map(|id| serde_json::json!({ "id": id }))
        .collect();
    let total = list.ids.len();
    serde_json::json!({
        "data": data,
        "pagination": { "page": page, "per_page": PER_PAGE, "total": total, "total_pages": total.div_ceil(PER_PAGE) },
    })
}

#[tokio::test]
async fn a_page_retried_after_head_inserts_costs_the_page_after_it_read_again_not_every_page_read_ahead() {
    let list = Arc::new(Mutex::new(List {
        ids: (0..PAGES * PER_PAGE).map(|i| format!("b{i:04}")).collect(),
        ..List::default()
    }));
    let at_start: Vec<String> = list.lock().unwrap().ids.clone();
    let served = list.clone();
    let app = axum::Router::new().route(
        "/bundles",
        get(move |Query(q): Query<HashMap<String, String>>| {
            let list = served.clone();
            async move {
                let page: usize = q["page"].parse().unwrap();
                let times = {
                    let mut list = list.lock().unwrap();
                    *list.asked.entry(page).or_default() += 1;
                    list.asked[&page]
                };
                if page == 5 && times == 1 {
                    let body =
                        serde_json::json!({ "error": { "code": "INTERNAL_ERROR", "message": "scripted" } });
                    return (axum::http::StatusCode::SERVICE_UNAVAILABLE, axum::Json(body));
                }
                if page == 5 && times == 2 {
                    // The retry is served once every later page was, after 3 bundles were created.
                    for _ in 0..1000 {
                        if (6..=PAGES).all(|p| list.lock().unwrap().asked.contains_key(&p)) {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    let mut list = list.lock().unwrap();
                    (0..3).for_each(|i| list.ids.insert(0, format!("new{i}")));
                }
                let body = page_of(&list.lock().unwrap(), page);
                (axum::http::StatusCode::OK, axum::Json(body))
            }
        }),
    );
    let (options, server) = scripted(app).await;
    let mut walk =
        Walk::new(client(options, budget_options(1000.0, 1000)), "/bundles", vec![], PER_PAGE as u32)
            .unwrap()
            .with_pages_in_flight(32 << 20);
    let mut delivered = Vec::new();
    while let Some(page) = walk.next_page().await.unwrap() {
        delivered.extend(page.items.iter().map(|item| item["id"].as_str().unwrap().to_string()));
    }
    server.abort();

    let unique: HashSet<&String> = delivered.iter().collect();
    assert_eq!(unique.len(), delivered.len(), "a bundle was delivered twice");
    assert!(at_start.iter().all(|id| unique.contains(id)), "every bundle present throughout is delivered");
    let asked = list.lock().unwrap().asked.clone();
    assert!((6..=PAGES).all(|p| asked.contains_key(&p)), "the pages after 5 were read ahead: {asked:?}");
    let requests: usize = asked.values().sum();
    // 21 pages once the list holds 203 bundles, the 503, and page 6 again.
    assert_eq!((requests, walk.stats().rereads), (PAGES + 1 + 1 + 1, 1), "requests per page: {asked:?}");
}
