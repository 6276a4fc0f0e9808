//! One bundle's children fetched and stored, and what a failure means: a
//! failure of that bundle only (a 403 `BUNDLE_NOT_OWNED`, a 5xx, a body that
//! is not a list, a slot without `position`, an id that is not one safe path
//! segment) sets the bundle aside in `sync_problems` and the run goes on;
//! what stops everything (the key refused, the budget, a 404 of a route,
//! Postgres) stops the run.

use anyhow::Context;

use super::context::Mirror;
use super::problems;
use super::refresh::{self, Answer, Part};
use super::streams::ChildStream;
use super::tally::Tally;
use crate::api::{ApiError, Client, is_safe_id};

/// What became of one bundle.
#[derive(Debug)]
pub(super) enum Fetched {
    Stored,
    /// The API says the bundle is gone (`BUNDLE_NOT_FOUND`).
    Gone,
    /// Set aside; `retryable`: a 5xx or a lost answer (many in a row are a storm).
    Problem {
        retryable: bool,
    },
}

/// One bundle's answer: `None` when its id is not one safe path segment
/// (nothing is requested).
pub(super) type Requested = (String, Option<Result<Answer, ApiError>>);

/// Requests one bundle's children with `client` (the mirror's, or a clone
/// of it that reports its send); stores nothing.
pub(super) async fn request(client: Client, stream: &'static ChildStream, id: String) -> Requested {
    if !is_safe_id(&id) {
        return (id, None);
    }
    let part = Part::Child(stream);
    let answer = client.get(&part.path(&id), &[]).await;
    (id, Some(refresh::read(part, answer)))
}

/// Stores one bundle's answered children, in one transaction with the
/// record of the refresh (and the end of its problem, `was_problem`).
/// `Err` only for what stops the run.
pub(super) async fn store(
    m: &Mirror,
    stream: &'static ChildStream,
    (id, answer): Requested,
    was_problem: bool,
    tally: &mut Tally,
) -> anyhow::Result<Fetched> {
    let id = id.as_str();
    let Some(answer) = answer else {
        let text =
            format!("the bundle id {:?} is not one safe path segment; nothing was requested", excerpt_of(id));
        return set_aside(m, stream, id, "UNSAFE_ID", &text, false, tally).await;
    };
    tally.pages += 1;
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => {
            let Some((code, retryable)) = one_subjects(&e) else { return Err(e.into()) };
            return set_aside(m, stream, id, &code, &format!("{e}"), retryable, tally).await;
        }
    };
    if let Answer::BundleGone = answer {
        tracing::info!(stream = stream.name, bundle = id, "the bundle no longer exists");
        return Ok(Fetched::Gone);
    }
    let mut tx = m.pool.begin().await.context("Failed to start a transaction")?;
    let applied = match refresh::apply(&mut tx, id, &answer).await {
        Ok(applied) => applied,
        Err(e) if !from_postgres(&e) => {
            drop(tx);
            return set_aside(m, stream, id, "BAD_BODY", &format!("{e:#}"), false, tally).await;
        }
        Err(e) => return Err(e),
    };
    if was_problem {
        problems::clear(&mut tx, stream.name, id).await?;
    }
    tally.items += applied.items;
    tally.inserted += applied.up.inserted;
    tally.updated += applied.up.updated + applied.up.revived;
    tally.unchanged += applied.up.unchanged;
    tally.deleted += applied.deleted;
    tx.commit().await.context("Failed to commit a bundle's children")?;
    Ok(Fetched::Stored)
}

/// Subjects (bundles, parents) failing one after another this many times
/// (5xx, no answer) are the API failing, not one subject: the run stops.
pub(super) const STORM: u32 = 5;

/// Whether `e` is a failure of the one subject (a bundle, a parent row)
/// the request was about, to set it aside: its code and whether it may pass
/// (a 5xx, no answer). `None`: what fails every request (the key, the
/// budget, stopping, a 404 of a route from a wrong `api.base_url`).
pub(super) fn one_subjects(e: &ApiError) -> Option<(String, bool)> {
    match e {
        ApiError::Retryable { status, .. } => {
            Some((status.map_or("NO_ANSWER".to_string(), |s| format!("HTTP {s}")), true))
        }
        ApiError::Fatal { status, code, .. } => Some((
            code.clone().unwrap_or_else(|| status.map_or("BAD_BODY".into(), |s| format!("HTTP {s}"))),
            false,
        )),
        ApiError::Conflict { code, .. } => Some((code.clone(), false)),
        _ => None,
    }
}

pub(super) fn from_postgres(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| cause.downcast_ref::<sqlx::Error>().is_some())
}

fn excerpt_of(id: &str) -> String {
    id.chars().take(80).collect()
}

async fn set_aside(
    m: &Mirror,
    stream: &'static ChildStream,
    id: &str,
    code: &str,
    text: &str,
    retryable: bool,
    tally: &mut Tally,
) -> anyhow::Result<Fetched> {
    tracing::warn!(
        stream = stream.name,
        bundle = id,
        code,
        error = text,
        "bundle set aside; the run goes on"
    );
    let mut tx = m.pool.begin().await.context("Failed to start a transaction")?;
    problems::record(&mut tx, stream.name, id, code, text).await?;
    tx.commit().await.context("Failed to commit a problem")?;
    tally.problems += 1;
    Ok(Fetched::Problem { retryable })
}
