//! The values a label can take, one list each, so every series is known
//! before its first event: what records a series takes its label from here
//! (or from the list it names: streams from `mirror::streams::ALL`, run
//! statuses from `mirror::Status::ALL`).

/// The API clients of the daemon, as the `client` label names them: the
/// sync's key and the replay's (the same key unless a write key is set).
pub const CLIENTS: [&str; 2] = ["sync", "replay"];

/// What one drain did with a job, in the order `drained` counts them.
pub const JOB_OUTCOMES: [&str; 7] =
    ["succeeded", "retrying", "failed", "expired", "superseded", "released", "key_refused"];

/// What became of a mirrored row.
pub const ROW_CHANGES: [&str; 3] = ["inserted", "updated", "deleted"];

/// What became of a stored webhook event: refreshed (its type known or
/// not), or given up.
pub const EVENT_KINDS: [&str; 3] = ["known", "unknown", "failed"];

/// The HTTP statuses the API documents (and the 5xx a proxy may add): shown
/// at 0 until first answered; any other status joins when it first comes.
pub const STATUSES: [u16; 14] = [200, 201, 400, 401, 402, 403, 404, 408, 409, 429, 500, 502, 503, 504];

/// What the receiver did with one webhook delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Stored: a new event.
    Accepted,
    /// Already stored: answered 200 again, nothing done.
    Duplicate,
    /// No secret configured, or the signature did not verify (401).
    Refused,
    /// Signed, but not an event (400).
    Invalid,
    /// Could not be stored (503: the sender retries).
    Unstored,
}

impl Delivery {
    pub const ALL: [Delivery; 5] =
        [Delivery::Accepted, Delivery::Duplicate, Delivery::Refused, Delivery::Invalid, Delivery::Unstored];

    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Accepted => "accepted",
            Delivery::Duplicate => "duplicate",
            Delivery::Refused => "refused",
            Delivery::Invalid => "invalid",
            Delivery::Unstored => "unstored",
        }
    }
}
