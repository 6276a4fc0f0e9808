//! `GET /bundles`, every page, into `tokportal.bundles`.

use super::{BUNDLE_NOT_FOUND, Column, Detail, Kind, ListStream, col};

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
    detail: Some(Detail { path: "/bundles/", gone_code: BUNDLE_NOT_FOUND }),
    child_tables: &["tokportal.bundle_videos", "tokportal.bundle_accounts"],
    ledger: false,
};
