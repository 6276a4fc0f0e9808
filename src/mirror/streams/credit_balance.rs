//! `GET /credits/balance` into `tokportal.credit_balance_snapshots`: a row
//! only when the answer differs from the latest row.

use super::snapshot::SnapshotStream;

pub static CREDIT_BALANCE: SnapshotStream = SnapshotStream {
    name: "credit_balance",
    path: "/credits/balance",
    table: "tokportal.credit_balance_snapshots",
};
