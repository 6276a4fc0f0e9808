//! Webhooks: the endpoints each key registers (`POST/GET /webhooks`,
//! `DELETE /webhooks/{id}`, `GET /webhooks/{id}/deliveries`), the events every
//! change of a bundle emits, however it happens (the API, the admin endpoints
//! and handle, drift), and their signed delivery, retried, and broken on demand
//! by the `webhook_*_next` fault knobs.
//!
//! Map: [`changes`] which events a change emits; [`store`] endpoints, events,
//! deliveries and attempts, and `read` what the lists show of them; [`deliver`]
//! the dispatcher and [`attempt`] one delivery; [`sign`] the signature;
//! [`view`] the types the handle and `/__sim/webhooks/…` show.
//!
//! What the reference says, and is followed: deliveries are signed
//! `TokPortal-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`,
//! `TokPortal-Event-Id` is stable across redeliveries, and bundle events exist
//! only for created, published, cancelled and archived: a status moving
//! anywhere else, a title edit or a deletion emits nothing (why a client still
//! walks `GET /bundles` periodically). `POST /webhooks` refuses an
//! `Idempotency-Key` (its answer holds the secret).
//!
//! What it is silent on, and was assumed here:
//! - The envelope: `{"id": "evt_<uuid>", "type", "created_at": RFC 3339 with
//!   milliseconds, "data"}`; `data` of a bundle event is the bundle as
//!   `GET /bundles/{id}` serves it (its id in `data.id`); `data` of a slot or
//!   account event is the slot or account with `bundle_id` (and a slot's 1-based `position`).
//! - Event names beyond the four bundle ones: `video.created`, `video.updated`,
//!   `video.published` (a slot's status becomes `published`), `video.deleted`,
//!   `account.updated` and `account.banned` (its status becomes `banned`).
//!   Only `published` itself emits `bundle.published` (not `published_priority`).
//! - The key's HMAC is the whole secret `whsec_<32 hex>`, bytes as written.
//! - Endpoints belong to the key that registered them (another key cannot list,
//!   delete or read them: 404 `WEBHOOK_NOT_FOUND`); the bundles are one
//!   account's, so every endpoint subscribed to a type gets its events whatever its key.
//! - `events` empty or missing subscribes to every type; names are not checked
//!   against a list (new types may ship without a version change).
//! - `DELETE /webhooks/{id}` answers 200 `{"data":{"id","deleted":true}}`, and
//!   like every mutation takes an optional `Idempotency-Key` (a replay answers the same).
//! - Retries: a non-2xx, a timeout or a connection error is retried after
//!   1 s, 2 s, 4 s … capped at 60 s, 8 attempts in all (see
//!   [`WebhookConfig`](super::config::WebhookConfig), which tests shrink); a
//!   retry is signed afresh (new `t`), with the same body and event id.
//! - One endpoint gets one delivery at a time, oldest event first; a delivery
//!   waiting for its retry does not hold back the endpoint's later ones.
//! - `webhook_out_of_order_next` holds a delivery until the endpoint's next
//!   delivery was sent, or for the longest retry wait (`retry_cap`) when none
//!   follows: a real sender's reordering comes from its retries, which end.
//! - Nothing is recorded while no endpoint exists; an event is delivered to the
//!   endpoints registered when it was emitted.

pub mod attempt;
pub mod changes;
pub mod deliver;
mod handle;
mod read;
pub mod sign;
pub mod store;
pub mod view;

pub use read::{DeliveryFilter, EndpointFilter};
pub use store::Webhooks;
pub use view::{DeliveryState, Registered, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent};
