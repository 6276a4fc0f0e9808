//! `GET /accounts`, every page, into `tokportal.accounts`: the delivered
//! accounts a bundle's `saved_account_id` names. The reference lists the
//! endpoint and its filters but not the item's fields: the typed columns are
//! the fields we assume (NULL where the API names them otherwise; `data`
//! holds the item either way).

use super::list::{Column, Detail, Kind, ListStream, Routine, col};

/// The 404 codes of a delivered account that does not exist: the reference
/// lists both `ACCOUNT_NOT_FOUND` and `SAVED_ACCOUNT_NOT_FOUND` without saying
/// which endpoint answers which, and both name an account, never a route.
pub const ACCOUNT_GONE: &[&str] = &["ACCOUNT_NOT_FOUND", "SAVED_ACCOUNT_NOT_FOUND"];

const COLUMNS: &[Column] = &[
    col("platform", Kind::Text),
    col("country", Kind::Text),
    col("username", Kind::Text),
    col("status", Kind::Text),
    col("banned", Kind::Boolean),
    col("banned_at", Kind::Timestamp),
    col("created_at", Kind::Timestamp),
];

pub static ACCOUNTS: ListStream = ListStream {
    name: "accounts",
    path: "/accounts",
    table: "tokportal.accounts",
    columns: COLUMNS,
    detail: Some(Detail { path: "/accounts/", gone_codes: ACCOUNT_GONE }),
    children: false,
    routine: Routine::Never,
    strip_secrets: false,
};
