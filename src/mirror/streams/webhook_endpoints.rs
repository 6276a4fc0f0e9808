//! `GET /webhooks`, every page, into `tokportal.webhook_endpoints`: the
//! account's registered endpoints. An endpoint's signing secret is never
//! stored: every key named `secret` or ending in `_secret` is stripped from
//! the item, whether it came from the list or from `GET /webhooks/{id}`.
//! The typed columns are the fields we assume (the reference does not show
//! the item; `data` holds it, secrets stripped).

use super::list::{Column, Detail, Kind, ListStream, Routine, col};

/// The 404 codes of a webhook endpoint that does not exist. Assumed, as for
/// comment tasks: the reference lists no code for it; the names of the
/// resource and of the operation (getWebhookEndpoint).
pub const WEBHOOK_GONE: &[&str] = &["WEBHOOK_NOT_FOUND", "WEBHOOK_ENDPOINT_NOT_FOUND"];

const COLUMNS: &[Column] = &[
    col("url", Kind::Text),
    col("enabled", Kind::Boolean),
    col("events", Kind::TextArray),
    col("created_at", Kind::Timestamp),
];

pub static WEBHOOK_ENDPOINTS: ListStream = ListStream {
    name: "webhook_endpoints",
    path: "/webhooks",
    table: "tokportal.webhook_endpoints",
    columns: COLUMNS,
    detail: Some(Detail { path: "/webhooks/", gone_codes: WEBHOOK_GONE }),
    children: false,
    routine: Routine::Never,
    strip_secrets: true,
};
