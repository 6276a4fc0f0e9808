//! The `order` knob of `GET /bundles`, and bundles that share one `created_at`
//! (a bulk creation, or an admin insert with `same_created_at`).

use std::collections::HashSet;

use serde_json::{Value, json};
use tokportal_sync::sim::{ListOrder, SimServer};

use super::support::{Api, CREATE, admin_url, client, start, unlimited};

fn ids(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap().to_string()).collect()
}

fn created(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|b| b["created_at"].as_str().unwrap().to_string()).collect()
}

/// Every page of `/bundles?{query}`, one request each.
async fn walk(api: &Api<'_>, query: &str, per_page: usize) -> Vec<Value> {
    let mut items = Vec::new();
    for page in 1.. {
        let body = api.get_json(&format!("/bundles?page={page}&per_page={per_page}&{query}")).await;
        items.extend(body["data"].as_array().unwrap().iter().cloned());
        if page >= body["pagination"]["total_pages"].as_u64().unwrap() {
            return items;
        }
    }
    unreachable!()
}

fn set_order(sim: &SimServer, order: ListOrder) {
    sim.update_faults(|f| f.order = order).unwrap();
}

#[tokio::test]
async fn a_bulk_shares_one_created_at_and_newest_first_puts_the_last_created_first_every_time() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    assert_eq!(sim.faults().order, ListOrder::NewestFirst, "the default");
    let body = CREATE.replacen('{', r#"{"quantity":5,"#, 1);
    let bulk: Value = api.post("/bundles/bulk", &body).send().await.unwrap().json().await.unwrap();
    let made: Vec<String> =
        bulk["data"].as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap().into()).collect();
    let first = api.get_json("/bundles?per_page=10").await;
    assert_eq!(created(&first)[..5].iter().collect::<HashSet<_>>().len(), 1, "one created_at for the bulk");
    assert!(created(&first)[5] < created(&first)[0], "and newer than every other bundle");
    let expected: Vec<String> = made.iter().rev().cloned().collect();
    assert_eq!(ids(&first)[..5], expected[..]);
    assert_eq!(ids(&api.get_json("/bundles?per_page=10").await), ids(&first), "stable");
    sim.shutdown().await;
}

#[tokio::test]
async fn created_at_unstable_reshuffles_a_shared_created_at_group_on_every_request() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let group: HashSet<String> = sim.insert_bundles_same_created_at(8).into_iter().collect();
    set_order(&sim, ListOrder::CreatedAtUnstable);
    let (a, b) = (api.get_json("/bundles?per_page=100").await, api.get_json("/bundles?per_page=100").await);
    for page in [&a, &b] {
        assert_eq!(ids(page)[..8].iter().cloned().collect::<HashSet<_>>(), group, "the group is newest");
        assert_eq!(ids(page)[8..], ids(&a)[8..], "bundles with their own created_at keep their place");
        let times = created(page);
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "created_at descending");
    }
    // Deterministic: the order comes from the seeded PRNG (8! orders, so a repeat would be a bug).
    assert_ne!(ids(&a)[..8], ids(&b)[..8], "the group came back in the same order");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_shuffled_group_cut_by_page_edges_can_repeat_and_skip_bundles_within_one_walk() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let group: HashSet<String> = sim.insert_bundles_same_created_at(10).into_iter().collect();
    set_order(&sim, ListOrder::CreatedAtUnstable);
    let mut broken_walks = 0;
    for _ in 0..5 {
        let mut seen = Vec::new();
        for page in 1..=3 {
            seen.extend(ids(&api.get_json(&format!("/bundles?page={page}&per_page=4")).await));
        }
        let from_group: Vec<&String> = seen.iter().filter(|id| group.contains(*id)).collect();
        assert_eq!(from_group.len(), 10, "pages 1 to 3 hold the 10 newest positions");
        if from_group.iter().collect::<HashSet<_>>().len() < 10 {
            broken_walks += 1;
        }
    }
    assert!(broken_walks > 0, "a walk across the group should have seen a duplicate (and so missed one)");
    sim.shutdown().await;
}

#[tokio::test]
async fn id_order_sorts_by_id_and_an_inserted_bundle_lands_at_its_sorted_position() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    set_order(&sim, ListOrder::Id);
    let before: Vec<String> =
        walk(&api, "", 25).await.iter().map(|b| b["id"].as_str().unwrap().into()).collect();
    let mut sorted = before.clone();
    sorted.sort();
    assert_eq!(before, sorted);
    assert_eq!(sim.bundle_ids(), sorted, "bundle_ids follows the order knob");
    let inserted = sim.insert_bundles(3);
    let after: Vec<String> =
        walk(&api, "", 25).await.iter().map(|b| b["id"].as_str().unwrap().into()).collect();
    let mut expected = [sorted, inserted.clone()].concat();
    expected.sort();
    assert_eq!(after, expected);
    let positions: Vec<usize> =
        inserted.iter().map(|id| after.iter().position(|a| a == id).unwrap()).collect();
    assert!(positions.iter().any(|p| *p != 0), "not all at the head: {positions:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn filters_and_deletes_apply_in_every_order() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    sim.insert_bundles_same_created_at(6);
    let gone = sim.bundle_ids()[3..9].to_vec();
    assert_eq!(sim.delete_bundles(&gone), gone);
    let published = |b: &&Value| b["status"] == "published";
    let snapshot = sim.list_items();
    let mut expected: Vec<&str> =
        snapshot.values().filter(published).map(|b| b["id"].as_str().unwrap()).collect();
    expected.sort();
    for order in [ListOrder::NewestFirst, ListOrder::CreatedAtUnstable, ListOrder::Id] {
        set_order(&sim, order);
        let all = walk(&api, "", 7).await;
        let mut all_ids: Vec<&str> = all.iter().map(|b| b["id"].as_str().unwrap()).collect();
        all_ids.sort();
        assert_eq!(all_ids, snapshot.keys().map(String::as_str).collect::<Vec<_>>(), "{order:?}");
        let items = walk(&api, "status=published", 3).await;
        let mut got: Vec<&str> = items.iter().map(|b| b["id"].as_str().unwrap()).collect();
        if order == ListOrder::Id {
            assert!(got.windows(2).all(|w| w[0] < w[1]), "id order within a filter");
        }
        got.sort();
        assert_eq!(got, expected, "{order:?}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn the_order_and_same_created_at_are_set_through_the_admin_endpoints() {
    let sim = start(unlimited()).await;
    let http = client();
    let patched =
        http.patch(admin_url(&sim, "/faults")).json(&json!({ "order": "id" })).send().await.unwrap();
    assert_eq!(patched.status(), 200);
    assert_eq!(sim.faults().order, ListOrder::Id);
    let bad =
        http.patch(admin_url(&sim, "/faults")).json(&json!({ "order": "random" })).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let insert = json!({ "count": 3, "same_created_at": true });
    let inserted: Value =
        http.post(admin_url(&sim, "/data/insert")).json(&insert).send().await.unwrap().json().await.unwrap();
    let items = sim.list_items();
    let times: HashSet<&Value> = inserted["inserted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| &items[id.as_str().unwrap()]["created_at"])
        .collect();
    assert_eq!(times.len(), 1);
    let newest = items.values().map(|b| b["created_at"].as_str().unwrap()).max().unwrap();
    assert_eq!(times.into_iter().next().unwrap(), newest);
    sim.shutdown().await;
}

#[tokio::test]
async fn every_unstable_page_holds_the_created_at_values_of_its_ranks_filtered_or_not() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    for size in [3, 7, 12, 1, 5] {
        sim.insert_bundles_same_created_at(size);
    }
    set_order(&sim, ListOrder::CreatedAtUnstable);
    for (query, status) in [("", None), ("status=pending_setup", Some("pending_setup"))] {
        let mut model: Vec<String> = sim
            .list_items()
            .values()
            .filter(|b| status.is_none_or(|s| b["status"] == s))
            .map(|b| b["created_at"].as_str().unwrap().to_string())
            .collect();
        model.sort_by(|a, b| b.cmp(a));
        for per_page in [4, 5, 9] {
            for page in 1..=model.len().div_ceil(per_page) + 1 {
                let body = api.get_json(&format!("/bundles?page={page}&per_page={per_page}&{query}")).await;
                let start = (page - 1) * per_page;
                let want = &model[start.min(model.len())..(start + per_page).min(model.len())];
                assert_eq!(created(&body), want, "{query:?} page {page} of {per_page}");
                assert_eq!(body["pagination"]["total"], model.len());
            }
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_filtered_list_sees_every_change_made_between_two_of_its_pages() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let query = "/bundles?status=published&per_page=100";
    let total = |page: &Value| page["pagination"]["total"].as_u64().unwrap();
    let before = api.get_json(query).await;
    let items = sim.list_items();
    let (id, _) = items.iter().find(|(_, b)| b["status"] == "draft").unwrap();
    assert!(sim.change_bundle(id, json!({ "status": "published" }).as_object().unwrap().clone()));
    let changed = api.get_json(query).await;
    assert_eq!(total(&changed), total(&before) + 1);
    assert!(ids(&changed).contains(id));
    sim.delete_bundles(std::slice::from_ref(id));
    let [inserted] = sim.insert_bundles(1).try_into().unwrap();
    let after = api.get_json(query).await;
    assert_eq!(total(&after), total(&before));
    assert!(!ids(&after).contains(id) && !ids(&after).contains(&inserted));
    assert_eq!(
        api.get_json("/bundles?status=pending_setup&per_page=1").await["data"][0]["id"],
        inserted.as_str()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn edge_swaps_swap_a_page_edge_with_its_neighbour_at_random_and_keep_the_rest_in_place() {
    let sim = start(unlimited()).await;
    let api = Api::new(&sim);
    let stable: Vec<String> = ids(&api.get_json("/bundles?per_page=100").await);
    set_order(&sim, ListOrder::EdgeSwaps);
    let mut swapped = 0;
    for _ in 0..20 {
        let page = ids(&api.get_json("/bundles?page=2&per_page=4").await);
        let (first, last) = (&page[0], &page[3]);
        assert!(first == &stable[4] || first == &stable[3], "the leading edge or its neighbour: {page:?}");
        assert!(last == &stable[7] || last == &stable[8], "the trailing edge or its neighbour: {page:?}");
        assert_eq!(page[1..3], stable[5..7], "inside the page nothing moves");
        swapped += usize::from(first != &stable[4]) + usize::from(last != &stable[7]);
    }
    assert!(swapped > 5 && swapped < 35, "about half the edges swap: {swapped} of 40");
    sim.shutdown().await;
}
