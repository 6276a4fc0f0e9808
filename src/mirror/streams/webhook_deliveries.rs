//! `GET /webhooks/{id}/deliveries` for each live webhook endpoint, failed
//! deliveries first, into `tokportal.webhook_deliveries`. The reference
//! names the endpoint and its `success` filter but not the item: the typed
//! columns are the fields we assume (NULL where the API names them
//! otherwise; `data` holds the item either way).

use super::list::{Column, Kind, col};
use super::nested::NestedStream;
use super::webhook_endpoints::{WEBHOOK_ENDPOINTS, WEBHOOK_GONE};

const COLUMNS: &[Column] = &[
    col("event_id", Kind::Text),
    col("event_type", Kind::Text),
    col("success", Kind::Boolean),
    col("status_code", Kind::Integer),
    col("attempts", Kind::Integer),
    col("error", Kind::Text),
    col("created_at", Kind::Timestamp),
    col("delivered_at", Kind::Timestamp),
];

pub static WEBHOOK_DELIVERIES: NestedStream = NestedStream {
    name: "webhook_deliveries",
    parent: &WEBHOOK_ENDPOINTS,
    prefix: "/webhooks/",
    suffix: "/deliveries",
    table: "tokportal.webhook_deliveries",
    parent_column: "webhook_id",
    // Failed first: what people look for is fresh first, at no extra cost.
    passes: &[("success", "false"), ("success", "true")],
    gone_codes: WEBHOOK_GONE,
    columns: COLUMNS,
};
