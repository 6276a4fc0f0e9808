//! The ledger: one entry per executed mutation, so tests can count what really
//! happened (and what a replay did not do). Keys appear only as fingerprints.

use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerEntry {
    /// Fingerprint of the API key (never the key itself).
    pub key_fingerprint: String,
    pub idempotency_key: Option<String>,
    pub method: String,
    pub path: String,
    /// SHA-256 of the exact request body bytes, hex.
    pub body_sha256: String,
    /// Status of the answer the execution produced.
    pub status: u16,
    pub credits_debited: i64,
    pub at: DateTime<Utc>,
}

/// How the ledger names a body: SHA-256 of its exact bytes, hex.
pub fn body_sha256(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(body))
}
