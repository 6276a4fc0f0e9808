//! One bundle in or out of the mirror outside a page walk: what a webhook's
//! refresh calls, and what a child stream does for each planned bundle.
//! [`read`] says what an answer of the API means: only the documented 404
//! codes prove a bundle or a child gone (a 404 of a route, from a wrong
//! `api.base_url` or a proxy, proves nothing and stays an error). [`apply`]
//! writes what it means on the caller's connection, so the caller commits
//! its own records in the same transaction as the rows.

use anyhow::Context;
use serde_json::Value;
use sqlx::PgConnection;

use super::rows::{Upserted, excerpt};
use super::streams::{
    BUNDLE_ACCOUNTS, BUNDLE_NOT_FOUND, BUNDLE_VIDEOS, BUNDLES, CHILD_NOT_FOUND, ChildStream,
};
use super::{child_refreshes, child_store, store};
use crate::api::{ApiError, ApiResponse};

/// What one request reads of a bundle.
#[derive(Debug, Clone, Copy)]
pub enum Part {
    /// `GET /bundles/{id}`, stored as the list item.
    Bundle,
    /// `GET /bundles/{id}/{suffix}` of a child stream.
    Child(&'static ChildStream),
}

impl Part {
    /// The bundle's video slots.
    pub const VIDEOS: Part = Part::Child(&BUNDLE_VIDEOS);
    /// The bundle's account.
    pub const ACCOUNT: Part = Part::Child(&BUNDLE_ACCOUNTS);

    pub fn path(self, bundle_id: &str) -> String {
        match self {
            Part::Bundle => format!("/bundles/{bundle_id}"),
            Part::Child(stream) => format!("/bundles/{bundle_id}/{}", stream.suffix),
        }
    }
}

/// Whether the mirror holds `id` as a live bundle: a refresh that reads only
/// a child of a bundle it does not hold reads the bundle too (its row first).
pub async fn holds_bundle(conn: &mut PgConnection, id: &str) -> anyhow::Result<bool> {
    store::holds_bundle(conn, id).await
}

/// What an answer means for the mirror.
#[derive(Debug, Clone)]
pub enum Answer {
    /// The bundle, as the list item.
    Bundle(Value),
    /// The bundle no longer exists: it and its children are marked deleted.
    BundleGone,
    /// A child's answer, whole (its `data` is what is stored).
    Child(&'static ChildStream, Value),
    /// The bundle has no such child (yet): its rows are marked deleted.
    ChildGone(&'static ChildStream),
}

/// What the answer to `part` means, or the error when it proves nothing.
pub fn read(part: Part, answer: Result<ApiResponse, ApiError>) -> Result<Answer, ApiError> {
    match (part, answer) {
        (Part::Bundle, Ok(found)) => Ok(Answer::Bundle(list_item(found.body))),
        (Part::Child(stream), Ok(found)) => Ok(Answer::Child(stream, found.body)),
        // The bundle itself is gone: a 404 with its documented code is proof, not a guess.
        (_, Err(ApiError::NotFound { code, .. })) if code == BUNDLE_NOT_FOUND => Ok(Answer::BundleGone),
        // No slot or account (yet): only the documented codes say so; any
        // other 404 (a route's) is an error instead of deleting children.
        (Part::Child(stream), Err(ApiError::NotFound { code, .. }))
            if CHILD_NOT_FOUND.contains(&code.as_str()) =>
        {
            Ok(Answer::ChildGone(stream))
        }
        (_, Err(e)) => Err(e),
    }
}

/// What applying one answer wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Items the answer held: the slots, or one bundle or account.
    pub items: u64,
    pub up: Upserted,
    /// Rows marked deleted.
    pub deleted: u64,
}

/// Writes what `answer` says of `bundle_id`, with the record of a child's
/// refresh, on `conn` (the caller's transaction).
pub async fn apply(conn: &mut PgConnection, bundle_id: &str, answer: &Answer) -> anyhow::Result<Applied> {
    let mut applied = Applied::default();
    match answer {
        Answer::Bundle(item) => {
            applied.items = 1;
            applied.up =
                store::upsert_page(conn, &BUNDLES, std::slice::from_ref(item), store::Probe::Lookup).await?;
            store::clear_missed(conn, &BUNDLES, bundle_id).await?;
        }
        Answer::BundleGone => {
            applied.deleted = store::mark_deleted(conn, &BUNDLES, &[bundle_id.to_string()]).await?;
        }
        Answer::Child(stream, body) => {
            let path = Part::Child(stream).path(bundle_id);
            let data = body.get("data").cloned().unwrap_or(Value::Null);
            if stream.videos {
                let slots = data.as_array().ok_or_else(|| {
                    anyhow::anyhow!("GET {path}: `data` is not a list of slots: {}", excerpt(body))
                })?;
                let (up, gone) = child_store::upsert_videos(conn, bundle_id, slots)
                    .await
                    .with_context(|| format!("GET {path}"))?;
                applied = Applied { items: slots.len() as u64, up, deleted: gone };
            } else {
                anyhow::ensure!(data.is_object(), "GET {path}: `data` is not an account: {}", excerpt(body));
                applied.items = 1;
                applied.up = child_store::upsert_account(conn, bundle_id, &data).await?;
            }
            child_refreshes::mark_refreshed(conn, stream.name, bundle_id).await?;
        }
        Answer::ChildGone(stream) => {
            applied.deleted = child_store::mark_gone(conn, stream, bundle_id).await?;
            child_refreshes::mark_refreshed(conn, stream.name, bundle_id).await?;
        }
    }
    Ok(applied)
}

/// `GET /bundles/{id}` answers `{"data": {...}}` with the account and video
/// slots embedded (at least in summary, says the reference); the list item
/// is the object without them, so the row does not change shape (a refresh
/// storing the detail would be rewritten back by the next walk).
pub fn list_item(body: Value) -> Value {
    let mut item = match body {
        Value::Object(mut map) => map.remove("data").unwrap_or(Value::Object(map)),
        other => other,
    };
    if let Value::Object(map) = &mut item {
        map.remove("account");
        map.remove("videos");
    }
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    fn not_found(code: &str) -> Result<ApiResponse, ApiError> {
        Err(ApiError::NotFound {
            request: "GET /bundles/b1".into(),
            code: code.into(),
            details: None,
            request_id: String::new(),
        })
    }

    #[test]
    fn only_the_documented_codes_prove_a_bundle_or_a_child_gone() {
        assert!(matches!(read(Part::Bundle, not_found("BUNDLE_NOT_FOUND")), Ok(Answer::BundleGone)));
        assert!(matches!(read(Part::VIDEOS, not_found("BUNDLE_NOT_FOUND")), Ok(Answer::BundleGone)));
        assert!(
            matches!(read(Part::VIDEOS, not_found("VIDEO_NOT_FOUND")), Ok(Answer::ChildGone(s)) if s.videos)
        );
        assert!(
            matches!(read(Part::ACCOUNT, not_found("ACCOUNT_NOT_FOUND")), Ok(Answer::ChildGone(s)) if !s.videos)
        );
        for (part, code) in
            [(Part::Bundle, "VIDEO_NOT_FOUND"), (Part::Bundle, "NOT_FOUND"), (Part::ACCOUNT, "NOT_FOUND")]
        {
            assert!(matches!(read(part, not_found(code)), Err(ApiError::NotFound { .. })), "{part:?} {code}");
        }
    }
}
