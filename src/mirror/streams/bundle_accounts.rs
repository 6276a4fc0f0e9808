//! `GET /bundles/{id}/account`, planned per bundle, into `tokportal.bundle_accounts`.

use super::child::ChildStream;

pub static BUNDLE_ACCOUNTS: ChildStream = ChildStream {
    name: "bundle_accounts",
    suffix: "account",
    table: "tokportal.bundle_accounts",
    videos: false,
};
