//! `GET /accounts/{id}/analytics` for each live account, in rotation, into
//! `tokportal.account_analytics_snapshots`: one row per account and day.

use super::snapshot::DailyStream;

pub static ACCOUNT_ANALYTICS: DailyStream = DailyStream {
    name: "account_analytics",
    parent: "accounts",
    parent_table: "tokportal.accounts",
    prefix: "/accounts/",
    suffix: "/analytics",
    table: "tokportal.account_analytics_snapshots",
    gone_code: "ACCOUNT_NOT_FOUND",
};
