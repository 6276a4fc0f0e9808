//! `GET /credits/history` into `tokportal.credit_transactions`. The
//! reference documents neither the item schema nor an endpoint for one
//! transaction: the typed columns are the simulator's field names (NULL when
//! the real API names them otherwise; `data` holds the item either way), and
//! a transaction is marked deleted only after two complete walks missed it.
//! The ledger is append-only and listed newest first.

use super::list::{Column, Kind, ListStream, Routine, col};

const COLUMNS: &[Column] = &[
    Column { name: "kind", field: "type", kind: Kind::Text },
    col("amount", Kind::Numeric),
    col("balance_after", Kind::Numeric),
    col("bundle_id", Kind::Text),
    col("created_at", Kind::Timestamp),
];

pub static CREDIT_TRANSACTIONS: ListStream = ListStream {
    name: "credit_transactions",
    path: "/credits/history",
    table: "tokportal.credit_transactions",
    columns: COLUMNS,
    detail: None,
    children: false,
    routine: Routine::Head,
    strip_secrets: false,
};
