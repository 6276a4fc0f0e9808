//! One claimed batch, fetched and stored: the requests [`super::work`] maps
//! its types to, each once, then the rows and the record of the refresh in
//! one transaction (a crash between the two never records a refresh that
//! did not reach the mirror).

use anyhow::Context;
use serde_json::Value;

use super::events::{self, Batch};
use super::refresh::Refresher;
use super::work::{Slots, Work};
use crate::api::ApiError;
use crate::mirror::deletes::list_item;
use crate::mirror::streams::BUNDLES;
use crate::mirror::{child_store, store};

// Only the documented codes prove a bundle or a child gone (any other 404,
// such as a route's, is a failure, not a delete).
use crate::mirror::streams::{BUNDLE_NOT_FOUND, CHILD_NOT_FOUND};

/// Fetches and stores, then records the events as refreshed in the same
/// transaction as the rows.
pub(super) async fn apply(r: &Refresher, batch: &Batch, work: Work) -> anyhow::Result<(String, u32)> {
    let Some(id) = batch.bundle_id.as_deref() else {
        let what = if work.unknown > 0 { "nothing: unknown type" } else { "nothing: no bundle named" };
        let mut conn = r.pool.acquire().await.context("Failed to get a connection")?;
        events::mark_refreshed(&mut conn, batch, what).await?;
        return Ok((what.to_string(), 0));
    };
    let (mut done, mut requests) = (Vec::new(), 0u32);
    let mut tx_work: Vec<Fetched> = Vec::new();
    let mut slots = work.fetch.slots;
    if work.fetch.bundle {
        requests += 1;
        match r.client.get(&format!("/bundles/{id}"), &[]).await {
            Ok(found) => {
                let item = list_item(found.body);
                if slots == Slots::IfAny && item.get("videos_quantity").and_then(Value::as_i64) == Some(0) {
                    slots = Slots::No;
                }
                tx_work.push(Fetched::Bundle(item));
            }
            // Only the documented code proves the bundle gone: a 404 of a
            // route (a wrong api.base_url) must not delete what events name.
            Err(ApiError::NotFound { code, .. }) if code == BUNDLE_NOT_FOUND => tx_work.push(Fetched::Gone),
            Err(e) => return Err(e.into()),
        }
    }
    let gone = matches!(tx_work.last(), Some(Fetched::Gone));
    for (wanted, suffix) in [(slots != Slots::No, "videos"), (work.fetch.account, "account")] {
        if !wanted || gone {
            continue;
        }
        requests += 1;
        match r.client.get(&format!("/bundles/{id}/{suffix}"), &[]).await {
            Ok(found) => {
                let data = found.body.get("data").cloned().unwrap_or(Value::Null);
                tx_work.push(if suffix == "videos" { Fetched::Videos(data) } else { Fetched::Account(data) });
            }
            Err(ApiError::NotFound { code, .. }) if code == BUNDLE_NOT_FOUND => {
                tx_work.push(Fetched::Gone);
                break;
            }
            Err(ApiError::NotFound { code, .. }) if CHILD_NOT_FOUND.contains(&code.as_str()) => {
                tx_work.push(Fetched::NoChild(suffix));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let mut tx = r.pool.begin().await.context("Failed to start a transaction")?;
    for fetched in tx_work {
        match fetched {
            Fetched::Bundle(item) => {
                store::upsert_page(&mut tx, &BUNDLES, std::slice::from_ref(&item)).await?;
                store::clear_missed(&mut tx, &BUNDLES, id).await?;
                done.push("bundle");
            }
            Fetched::Gone => {
                store::mark_deleted(&mut tx, &BUNDLES, &[id.to_string()]).await?;
                done.push("bundle deleted");
            }
            Fetched::Videos(data) => {
                let slots = data.as_array().ok_or_else(|| {
                    anyhow::anyhow!("GET /bundles/{id}/videos: `data` is not a list of slots")
                })?;
                child_store::upsert_videos(&mut tx, id, slots).await?;
                child_store::mark_refreshed(&mut tx, "bundle_videos", id).await?;
                done.push("videos");
            }
            Fetched::Account(data) => {
                anyhow::ensure!(data.is_object(), "GET /bundles/{id}/account: `data` is not an account");
                child_store::upsert_account(&mut tx, id, &data).await?;
                child_store::mark_refreshed(&mut tx, "bundle_accounts", id).await?;
                done.push("account");
            }
            Fetched::NoChild(suffix) => {
                let (table, stream) = if suffix == "videos" {
                    ("tokportal.bundle_videos", "bundle_videos")
                } else {
                    ("tokportal.bundle_accounts", "bundle_accounts")
                };
                child_store::mark_gone(&mut tx, table, id).await?;
                child_store::mark_refreshed(&mut tx, stream, id).await?;
                done.push(if suffix == "videos" { "videos gone" } else { "account gone" });
            }
        }
    }
    if work.unknown > 0 {
        done.push("unknown types ignored");
    }
    let what = if done.is_empty() { "nothing".to_string() } else { done.join(", ") };
    events::mark_refreshed(&mut tx, batch, &what).await?;
    tx.commit().await.context("Failed to commit a webhook refresh")?;
    Ok((what, requests))
}

enum Fetched {
    Bundle(Value),
    Gone,
    Videos(Value),
    Account(Value),
    NoChild(&'static str),
}
