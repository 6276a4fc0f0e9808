//! `GET /account-bans` into `tokportal.account_bans`. There is no endpoint
//! for one ban, so a ban is marked deleted only after two complete walks
//! missed it. Between full walks a routine run reads only the bans changed
//! since the last run (`since`, with `sync.since_overlap`). The reference
//! names the `since` parameter only; we assume it compares with the time a
//! ban last changed (`updated_at`), and the typed columns are the fields we
//! assume (NULL where the API names them otherwise; `data` holds the item).

use super::list::{Column, Kind, ListStream, Routine, col};

const COLUMNS: &[Column] = &[
    col("account_id", Kind::Text),
    col("status", Kind::Text),
    col("resolution", Kind::Text),
    col("reason", Kind::Text),
    col("banned_at", Kind::Timestamp),
    col("created_at", Kind::Timestamp),
    col("updated_at", Kind::Timestamp),
];

pub static ACCOUNT_BANS: ListStream = ListStream {
    name: "account_bans",
    path: "/account-bans",
    table: "tokportal.account_bans",
    columns: COLUMNS,
    detail: None,
    children: false,
    routine: Routine::Since { param: "since" },
    strip_secrets: false,
};
