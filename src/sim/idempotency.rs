//! One API key's idempotency store: which keys were seen, for which request
//! (method, path and exact body bytes), and the stored answer once executed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode};
use sha2::{Digest, Sha256};

/// The longest key the API accepts.
pub const MAX_KEY_LEN: usize = 255;

/// What identifies "the same request": method, path (with query) and body bytes.
pub fn request_hash(method: &str, path: &str, body: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update(b"\n");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    hasher.finalize().into()
}

/// A stored answer, replayed as is.
#[derive(Debug, Clone)]
pub struct Stored {
    pub status: StatusCode,
    pub content_type: Option<HeaderValue>,
    pub body: Bytes,
}

#[derive(Debug, Clone)]
enum State {
    Running,
    Done(Stored),
}

#[derive(Debug, Clone)]
struct Entry {
    request: [u8; 32],
    created: Instant,
    state: State,
}

/// The outcome of presenting a key.
#[derive(Debug, Clone)]
pub enum Begin {
    /// First use (or the old entry expired): execute, then `finish`.
    Execute,
    Replay(Stored),
    /// Same request, first one still executing.
    InProgress,
    /// Same key, different method, path or body (checked before `InProgress`).
    Reused,
}

#[derive(Debug, Default)]
pub struct IdempotencyStore {
    entries: HashMap<String, Entry>,
}

impl IdempotencyStore {
    pub fn begin(&mut self, key: &str, request: [u8; 32], now: Instant, ttl: Duration) -> Begin {
        if let Some(entry) = self.entries.get(key) {
            let expired = now.saturating_duration_since(entry.created) >= ttl;
            if !expired {
                return match (&entry.state, entry.request == request) {
                    (_, false) => Begin::Reused,
                    (State::Running, true) => Begin::InProgress,
                    (State::Done(stored), true) => Begin::Replay(stored.clone()),
                };
            }
        }
        self.entries.insert(key.to_string(), Entry { request, created: now, state: State::Running });
        Begin::Execute
    }

    pub fn finish(&mut self, key: &str, stored: Stored) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.state = State::Done(stored);
        }
    }

    /// Forget a key whose execution never happened, so a retry executes.
    pub fn abandon(&mut self, key: &str) {
        if matches!(self.entries.get(key), Some(Entry { state: State::Running, .. })) {
            self.entries.remove(key);
        }
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}
