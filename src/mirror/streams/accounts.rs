//! `GET /accounts`, every page, into `tokportal.accounts`: the delivered
//! accounts a bundle's `saved_account_id` names. The reference lists the
//! endpoint and its filters but not the item's fields: the typed columns are
//! the fields we assume (NULL where the API names them otherwise; `data`
//! holds the item either way).

use super::list::{Column, Detail, Kind, ListStream, Routine, col};

/// The documented 404 code of an account that does not exist.
pub const ACCOUNT_NOT_FOUND: &str = "ACCOUNT_NOT_FOUND";

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
    detail: Some(Detail { path: "/accounts/", gone_code: ACCOUNT_NOT_FOUND }),
    children: false,
    routine: Routine::Never,
    strip_secrets: false,
};
