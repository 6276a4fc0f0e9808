//! `GET /comments`, every page, into `tokportal.comments`: comment tasks and
//! their status. The typed columns are the fields we assume (the reference
//! does not show the item; `data` holds it whatever its fields). The comment
//! text stays in `data` only.

use super::list::{Column, Detail, Kind, ListStream, Routine, col};

/// The 404 codes of a comment task that does not exist. Assumed: the
/// reference lists the endpoint (getCommentTask) but no code for it, so the
/// names the API's pattern (`BUNDLE_NOT_FOUND`, `VIDEO_NOT_FOUND`) gives the
/// resource and the operation; only these codes delete a row.
pub const COMMENT_GONE: &[&str] = &["COMMENT_NOT_FOUND", "COMMENT_TASK_NOT_FOUND"];

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
    detail: Some(Detail { path: "/comments/", gone_codes: COMMENT_GONE }),
    children: false,
    routine: Routine::Never,
    strip_secrets: false,
};
