//! One claimed batch, fetched and stored: the requests [`super::work`] maps
//! its types to, each once, then the mirror's refresh of each answer and the
//! record of the refresh in one transaction (a crash between the two never
//! records a refresh that did not reach the mirror). A slot or account event
//! about a bundle the mirror does not hold yet (created since the last walk)
//! reads the bundle too, stored first, so its children have their parent.

use anyhow::Context;
use serde_json::Value;
use sqlx::PgPool;

use super::events::{self, Batch};
use super::work::{Slots, Work};
use crate::api::Client;
use crate::mirror::refresh::{self, Answer, Part};

/// Fetches and stores, then records the events as refreshed in the same
/// transaction as the rows. Returns what was done and the requests sent.
pub(super) async fn apply(
    pool: &PgPool,
    client: &Client,
    batch: &Batch,
    work: Work,
) -> anyhow::Result<(String, u32)> {
    let Some(id) = batch.bundle_id.as_deref() else {
        let what = if work.unknown > 0 { "nothing: unknown type" } else { "nothing: no bundle named" };
        let mut conn = pool.acquire().await.context("Failed to get a connection")?;
        events::mark_refreshed(&mut conn, batch, what).await?;
        return Ok((what.to_string(), 0));
    };
    let (mut done, mut requests) = (Vec::new(), 0u32);
    let mut answers: Vec<Answer> = Vec::new();
    let mut slots = work.fetch.slots;
    let mut fetch_bundle = work.fetch.bundle;
    if !fetch_bundle && (slots != Slots::No || work.fetch.account) {
        let mut conn = pool.acquire().await.context("Failed to get a connection")?;
        fetch_bundle = !refresh::holds_bundle(&mut conn, id).await?;
    }
    if fetch_bundle {
        requests += 1;
        let answer = refresh::read(Part::Bundle, client.get(&Part::Bundle.path(id), &[]).await)?;
        if let Answer::Bundle(item) = &answer
            && slots == Slots::IfAny
            && item.get("videos_quantity").and_then(Value::as_i64) == Some(0)
        {
            slots = Slots::No;
        }
        answers.push(answer);
    }
    let gone = matches!(answers.last(), Some(Answer::BundleGone));
    for (wanted, part) in [(slots != Slots::No, Part::VIDEOS), (work.fetch.account, Part::ACCOUNT)] {
        if !wanted || gone {
            continue;
        }
        requests += 1;
        let answer = refresh::read(part, client.get(&part.path(id), &[]).await)?;
        let gone = matches!(answer, Answer::BundleGone);
        answers.push(answer);
        if gone {
            break;
        }
    }
    let mut tx = pool.begin().await.context("Failed to start a transaction")?;
    for answer in &answers {
        refresh::apply(&mut tx, id, answer).await?;
        done.push(said(answer));
    }
    if work.unknown > 0 {
        done.push("unknown types ignored");
    }
    let what = if done.is_empty() { "nothing".to_string() } else { done.join(", ") };
    events::mark_refreshed(&mut tx, batch, &what).await?;
    tx.commit().await.context("Failed to commit a webhook refresh")?;
    Ok((what, requests))
}

/// What the events record of one answer applied.
fn said(answer: &Answer) -> &'static str {
    match answer {
        Answer::Bundle(_) => "bundle",
        Answer::BundleGone => "bundle deleted",
        Answer::Child(stream, _) if stream.videos => "videos",
        Answer::Child(..) => "account",
        Answer::ChildGone(stream) if stream.videos => "videos gone",
        Answer::ChildGone(_) => "account gone",
    }
}
