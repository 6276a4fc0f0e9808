//! The snapshot streams' shared rules, and one run of `credit_balance`: one
//! request, a new row only when the answer differs from the latest row.
//! Neither answer's body is documented: a singleton is read as `{"data":
//! {...}}`, or as the object itself ([`object_of`]), and loses every key
//! that names a secret before it is stored or compared. A daily snapshot is
//! of the answer's `date` (an RFC 3339 timestamp's UTC day is taken too),
//! else of the UTC day it was taken ([`day_of`]); its runs are `daily`'s.

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::context::Mirror;
use super::runs;
use super::snapshot_store;
use super::streams::SnapshotStream;
use super::summary::{RunSummary, Status, finished};
use super::tally::Tally;
use crate::api::ApiError;
/// The object of a singleton answer: `data` when the body has it (the
/// documented envelope; `None` when it is not an object), else the body
/// itself when it is an object.
pub(super) fn object_of(body: Value) -> Option<Value> {
    match body {
        Value::Object(mut map) => match map.remove("data") {
            Some(data) => data.is_object().then_some(data),
            None => Some(Value::Object(map)),
        },
        _ => None,
    }
}

/// The day a snapshot is of: its `date` (`YYYY-MM-DD`, or an RFC 3339
/// timestamp's UTC day); `None` when it has none that parses.
pub fn day_of(data: &Value) -> Option<NaiveDate> {
    let text = data.get("date")?.as_str()?;
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .or_else(|| DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc).date_naive()))
}

pub async fn run_snapshot(
    m: &Mirror,
    stream: &'static SnapshotStream,
    _cancel: &CancellationToken,
) -> anyhow::Result<RunSummary> {
    runs::resume_point(&m.pool, stream.name).await?;
    let (run_id, _) = runs::start(&m.pool, stream.name, "snapshot", None, None).await?;
    let before = m.client.counters();
    let mut tally = Tally::default();
    let result = async {
        let answer = m.client.get(stream.path, &[]).await?;
        tally.pages = 1;
        let data = object_of(answer.body.clone()).ok_or_else(|| {
            anyhow::anyhow!("GET {}: not an object: {}", stream.path, super::rows::excerpt(&answer.body))
        })?;
        let data = stored(data);
        tally.items = 1;
        let mut conn = m.pool.acquire().await.context("Failed to get a connection")?;
        if snapshot_store::add_if_changed(&mut conn, stream.table, &data).await? {
            tally.inserted = 1;
        } else {
            tally.unchanged = 1;
        }
        anyhow::Ok(())
    }
    .await;
    tally.spent(&m.client.counters(), &before);
    m.advance(stream.name, 1, Some(1));
    let (status, note, error) = match result {
        Ok(()) => (Status::Succeeded, None, None),
        Err(e) if ApiError::cancelled_in(&e) => {
            (Status::Interrupted, Some("stopped while the request waited for the budget".to_string()), None)
        }
        Err(e) => (Status::Failed, None, Some(e)),
    };
    finished(m, stream.name, "snapshot", run_id, status, tally, note, error).await
}

/// The item as stored: without any key that names a secret, at any depth.
pub(super) fn stored(mut data: Value) -> Value {
    crate::secret::strip_secret_keys(&mut data);
    data
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_snapshot_is_of_its_date_else_of_the_day_it_is_taken() {
        let day = |v: Value| day_of(&v);
        assert_eq!(day(json!({"date": "2026-12-08"})), NaiveDate::from_ymd_opt(2026, 12, 8));
        assert_eq!(day(json!({"date": "2026-12-08T23:30:00-02:00"})), NaiveDate::from_ymd_opt(2026, 12, 9));
        assert_eq!(day(json!({"date": "08/12/2026"})), None);
        assert_eq!(day(json!({"date": 20261208})), None);
        assert_eq!(day(json!({})), None);
    }

    #[test]
    fn a_singleton_is_its_data_object_and_loses_its_secrets() {
        let data = object_of(json!({"data": {"balance": 5, "webhook_secret": "s", "n": {"secret": 1}}}));
        assert_eq!(data.map(stored), Some(json!({"balance": 5, "n": {}})));
        assert_eq!(object_of(json!({"balance": 5})), Some(json!({"balance": 5})));
        assert_eq!(object_of(json!([1])), None);
        assert_eq!(object_of(json!({"data": [1]})), None);
    }
}
