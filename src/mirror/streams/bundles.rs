//! `GET /bundles`, every page, into `tokportal.bundles`.

use super::list::{Column, Detail, Kind, ListStream, Routine, col};

/// The documented 404 code of a bundle that does not exist.
pub const BUNDLE_NOT_FOUND: &str = "BUNDLE_NOT_FOUND";

const COLUMNS: &[Column] = &[
    col("status", Kind::Text),
    col("bundle_type", Kind::Text),
    col("platform", Kind::Text),
    col("country", Kind::Text),
    col("title", Kind::Text),
    col("external_ref", Kind::Text),
    col("saved_account_id", Kind::Text),
    col("created_at", Kind::Timestamp),
];

pub static BUNDLES: ListStream = ListStream {
    name: "bundles",
    path: "/bundles",
    table: "tokportal.bundles",
    columns: COLUMNS,
    detail: Some(Detail { path: "/bundles/", gone_codes: &[BUNDLE_NOT_FOUND] }),
    children: true,
    routine: Routine::Never,
    strip_secrets: false,
};
