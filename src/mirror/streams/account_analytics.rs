//! `GET /accounts/{id}/analytics` for each live account, in rotation, into
//! `tokportal.account_analytics_snapshots`: one row per account and day.

use super::accounts::{ACCOUNT_NOT_FOUND, ACCOUNTS};
use super::snapshot::DailyStream;

pub static ACCOUNT_ANALYTICS: DailyStream = DailyStream {
    name: "account_analytics",
    parent: &ACCOUNTS,
    prefix: "/accounts/",
    suffix: "/analytics",
    table: "tokportal.account_analytics_snapshots",
    gone_code: ACCOUNT_NOT_FOUND,
};
