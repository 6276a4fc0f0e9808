//! `GET /accounts/{id}/analytics` for each live account, in rotation, into
//! `tokportal.account_analytics_snapshots`: one row per account and day.

use super::accounts::{ACCOUNT_GONE, ACCOUNTS};
use super::snapshot::DailyStream;

pub static ACCOUNT_ANALYTICS: DailyStream = DailyStream {
    name: "account_analytics",
    parent: &ACCOUNTS,
    prefix: "/accounts/",
    suffix: "/analytics",
    table: "tokportal.account_analytics_snapshots",
    gone_codes: ACCOUNT_GONE,
};
