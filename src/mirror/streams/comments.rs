//! `GET /comments`, every page, into `tokportal.comments`: comment tasks and
//! their status. The typed columns are the fields we assume (the reference
//! does not show the item; `data` holds it whatever its fields). The comment
//! text stays in `data` only.

use super::list::{Column, Detail, Kind, ListStream, Routine, col};

/// The 404 code of a comment that does not exist. Assumed: the reference
/// lists the endpoint but not this code, and only this code deletes a row.
pub const COMMENT_NOT_FOUND: &str = "COMMENT_NOT_FOUND";

const COLUMNS: &[Column] = &[
    col("saved_account_id", Kind::Text),
    col("status", Kind::Text),
    col("post_url", Kind::Text),
    col("created_at", Kind::Timestamp),
    col("updated_at", Kind::Timestamp),
];

pub static COMMENTS: ListStream = ListStream {
    name: "comments",
    path: "/comments",
    table: "tokportal.comments",
    columns: COLUMNS,
    detail: Some(Detail { path: "/comments/", gone_code: COMMENT_NOT_FOUND }),
    children: false,
    routine: Routine::Never,
    strip_secrets: false,
};
