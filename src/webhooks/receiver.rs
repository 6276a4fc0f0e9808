//! `POST /webhooks/tokportal`: verify, store once, answer. The refresh runs
//! after, from the table (see `refresh`), so the sender gets its 2xx within
//! one insert, and an event stored just before a crash is still refreshed.
//!
//! Answers: 413 over [`MAX_BODY`]; 401 for a missing, bad or stale
//! signature (nothing stored); 400 when the body is not the envelope
//! (`{"id": "...", "type": "...", "data": {...}}` with an event id of at most
//! 255 characters; `data` may be anything for a type the worker does not map)
//! or when a `TokPortal-Event-Id` header disagrees with the body's `id`
//! (nothing stored); 200 for a new event and for a redelivery alike (the
//! latter changes nothing).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use secrecy::SecretString;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio::sync::Notify;

use super::{events, signature};
use crate::meter::Delivery;

pub const PATH: &str = "/webhooks/tokportal";
/// Deliveries are small JSON envelopes; anything larger is refused unread.
pub const MAX_BODY: usize = 1024 * 1024;
/// The longest event id stored (an assumption: the reference gives none).
pub const MAX_EVENT_ID: usize = 255;

/// What the route needs. `wake` is notified after each stored event.
#[derive(Clone)]
pub struct Receiver {
    pub pool: PgPool,
    pub secrets: Arc<Vec<SecretString>>,
    pub tolerance: Duration,
    pub wake: Arc<Notify>,
}

pub fn routes(receiver: Receiver) -> Router {
    Router::new().route(PATH, post(receive)).layer(DefaultBodyLimit::max(MAX_BODY)).with_state(receiver)
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> (StatusCode, String) {
    let header = headers.get("tokportal-signature").and_then(|v| v.to_str().ok());
    let now = chrono::Utc::now().timestamp();
    if r.secrets.is_empty() {
        tracing::warn!("a webhook delivery was refused: no TOKPORTAL_WEBHOOK_SECRET is configured");
        crate::meter::webhook_delivery(Delivery::Refused);
        return (StatusCode::UNAUTHORIZED, "no webhook secret is configured\n".into());
    }
    if let Err(e) = signature::verify(header, &body, &r.secrets, r.tolerance, now) {
        tracing::warn!(reason = %e, "a webhook delivery was refused");
        crate::meter::webhook_delivery(Delivery::Refused);
        return (StatusCode::UNAUTHORIZED, format!("{e}\n"));
    }
    let header_id = headers.get("tokportal-event-id").and_then(|v| v.to_str().ok());
    let event = match Event::parse(&body, header_id) {
        Ok(event) => event,
        Err(why) => {
            crate::meter::webhook_delivery(Delivery::Invalid);
            return (StatusCode::BAD_REQUEST, format!("{why}\n"));
        }
    };
    match events::insert(&r.pool, &event.id, &event.kind, event.bundle_id.as_deref(), &event.envelope).await {
        Ok(true) => {
            crate::meter::webhook_delivery(Delivery::Accepted);
            tracing::debug!(event.id = %event.id, event.kind = %event.kind, "webhook event stored");
            r.wake.notify_one();
            (StatusCode::OK, "stored\n".into())
        }
        Ok(false) => {
            crate::meter::webhook_delivery(Delivery::Duplicate);
            (StatusCode::OK, "already received\n".into())
        }
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "a webhook event could not be stored");
            crate::meter::webhook_delivery(Delivery::Unstored);
            // 503: the sender retries later.
            (StatusCode::SERVICE_UNAVAILABLE, "the event could not be stored; retry\n".into())
        }
    }
}

/// A verified delivery, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub kind: String,
    pub bundle_id: Option<String>,
    pub envelope: Value,
}

impl Event {
    /// The envelope `{"id", "type", "data"}`. The event id is the body's
    /// `id`, which the signature covers; the `TokPortal-Event-Id` header is
    /// not signed, so it may only repeat it: one that disagrees is refused,
    /// else one signed delivery could be stored again under any number of ids.
    /// A body without an `id` (the reference shows the header only; the
    /// simulator and the SDK examples put it in the body too) is deduplicated
    /// by a digest of its bytes (`sha256:<hex>`), the header unused: it could
    /// not be checked. `data` must be an object for the types a refresh reads
    /// it for (`bundle.*`, `video.*`, `account.*`); another type is stored
    /// whatever its `data` (a `ping` with none), and counted, never refused:
    /// the sender would retry it.
    pub fn parse(body: &[u8], header_id: Option<&str>) -> Result<Event, &'static str> {
        let envelope: Value = serde_json::from_slice(body).map_err(|_| "the body is not JSON")?;
        let kind = envelope.get("type").and_then(Value::as_str).filter(|t| !t.is_empty());
        let kind = kind.ok_or("the envelope has no string `type`")?.to_string();
        let data = envelope.get("data").filter(|d| d.is_object());
        if data.is_none() && super::work::fetch_of(&kind).is_some() {
            return Err("the envelope has no object `data`");
        }
        let id = match envelope.get("id") {
            None | Some(Value::Null) => format!("sha256:{}", hex::encode(Sha256::digest(body))),
            Some(Value::String(id)) if !id.is_empty() => {
                if header_id.is_some_and(|h| h != id) {
                    return Err("the TokPortal-Event-Id header disagrees with the signed body's `id`");
                }
                id.clone()
            }
            Some(_) => return Err("the envelope's `id` is not a non-empty string"),
        };
        if id.len() > MAX_EVENT_ID {
            return Err("the event id is longer than 255 characters");
        }
        // A bundle event names its bundle in `bundle_id` or `id` (the
        // reference does not say which); other events' `id` is their own object.
        let field = |name: &str| crate::api::model::item_id(&serde_json::json!({ "id": data?.get(name)? }));
        let bundle_id =
            field("bundle_id").or_else(|| kind.starts_with("bundle.").then(|| field("id")).flatten());
        Ok(Event { id, kind, bundle_id, envelope })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_event_names_its_bundle_in_bundle_id_or_id() {
        let e =
            Event::parse(br#"{"id":"evt_1","type":"bundle.published","data":{"id":"b1"}}"#, Some("evt_1"))
                .unwrap();
        assert_eq!((e.id.as_str(), e.bundle_id.as_deref()), ("evt_1", Some("b1")));
        let e = Event::parse(br#"{"id":"evt_2","type":"bundle.created","data":{"bundle_id":"b2"}}"#, None)
            .unwrap();
        assert_eq!((e.id.as_str(), e.bundle_id.as_deref()), ("evt_2", Some("b2")));
    }

    #[test]
    fn a_video_events_own_id_is_not_its_bundle() {
        let e = Event::parse(br#"{"id":"e","type":"video.published","data":{"id":"v9"}}"#, None).unwrap();
        assert_eq!(e.bundle_id, None);
    }

    #[test]
    fn what_is_not_the_envelope_is_refused() {
        for body in [
            &b"nope"[..],
            br#"{"data":{}}"#,
            br#"{"type":"bundle.created","data":[]}"#,
            br#"{"type":"video.updated"}"#,
            br#"{"id":7,"type":"ping"}"#,
            br#"{"id":"","type":"ping"}"#,
        ] {
            assert!(Event::parse(body, None).is_err(), "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn an_unknown_type_is_accepted_whatever_its_data() {
        for body in [
            &br#"{"id":"evt_ping","type":"ping","data":null}"#[..],
            br#"{"id":"evt_ping","type":"ping"}"#,
            br#"{"id":"evt_ping","type":"x","data":[1]}"#,
        ] {
            let e = Event::parse(body, Some("evt_ping")).unwrap();
            assert_eq!((e.id.as_str(), e.bundle_id), ("evt_ping", None), "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn the_event_id_is_the_signed_bodys_and_a_header_may_only_repeat_it() {
        let body = br#"{"id":"evt_body","type":"bundle.created","data":{"id":"b"}}"#;
        assert_eq!(Event::parse(body, Some("evt_body")).unwrap().id, "evt_body");
        assert_eq!(Event::parse(body, None).unwrap().id, "evt_body");
        assert_eq!(
            Event::parse(body, Some("evt_other")),
            Err("the TokPortal-Event-Id header disagrees with the signed body's `id`")
        );
    }

    #[test]
    fn a_body_without_an_id_is_known_by_its_digest_whatever_the_header() {
        let body = br#"{"type":"bundle.created","data":{"id":"b"}}"#;
        let (a, b) = (Event::parse(body, Some("evt_a")).unwrap(), Event::parse(body, Some("evt_b")).unwrap());
        assert_eq!(a.id, b.id);
        assert!(a.id.starts_with("sha256:") && a.id.len() == 7 + 64, "{}", a.id);
        let other = br#"{"type":"bundle.created","data":{"id":"c"}}"#;
        assert_ne!(Event::parse(other, None).unwrap().id, a.id);
    }

    #[test]
    fn a_too_long_event_id_is_refused() {
        let long = "e".repeat(256);
        let in_body = format!(r#"{{"id":"{long}","type":"bundle.created","data":{{"id":"b"}}}}"#);
        assert_eq!(Event::parse(in_body.as_bytes(), None), Err("the event id is longer than 255 characters"));
        let fits = format!(r#"{{"id":"{}","type":"bundle.created","data":{{"id":"b"}}}}"#, "e".repeat(255));
        assert!(Event::parse(fits.as_bytes(), None).is_ok());
    }
}
