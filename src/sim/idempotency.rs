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
    /// When it began, then when its answer was stored: the TTL counts from there.
    created: Instant,
    /// Which `begin` made this entry: `finish` and `abandon` act only on their own.
    token: u64,
    state: State,
}

impl Entry {
    /// A finished entry lives `ttl`; a running one never expires, or a duplicate
    /// sent while a long mutation runs would execute it a second time.
    fn expired(&self, now: Instant, ttl: Duration) -> bool {
        matches!(self.state, State::Done(_)) && now.saturating_duration_since(self.created) >= ttl
    }
}

/// Proof of one `begin` that answered `Execute`; `finish` and `abandon` take it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token(u64);

/// The outcome of presenting a key.
#[derive(Debug, Clone)]
pub enum Begin {
    /// First use (or the old entry expired): execute, then `finish` with this token.
    Execute(Token),
    Replay(Stored),
    /// Same request, first one still executing.
    InProgress,
    /// Same key, different method, path or body (checked before `InProgress`).
    Reused,
}

/// Below this many entries the store never sweeps expired ones.
const PRUNE_FLOOR: usize = 1024;

#[derive(Debug)]
pub struct IdempotencyStore {
    entries: HashMap<String, Entry>,
    next_token: u64,
    /// `begin` sweeps expired entries when the map grows past this.
    prune_at: usize,
}

impl Default for IdempotencyStore {
    fn default() -> Self {
        IdempotencyStore { entries: HashMap::new(), next_token: 0, prune_at: PRUNE_FLOOR }
    }
}

impl IdempotencyStore {
    pub fn begin(&mut self, key: &str, request: [u8; 32], now: Instant, ttl: Duration) -> Begin {
        if let Some(entry) = self.entries.get(key)
            && !entry.expired(now, ttl)
        {
            return match (&entry.state, entry.request == request) {
                (_, false) => Begin::Reused,
                (State::Running, true) => Begin::InProgress,
                (State::Done(stored), true) => Begin::Replay(stored.clone()),
            };
        }
        if self.entries.len() >= self.prune_at {
            self.entries.retain(|_, entry| !entry.expired(now, ttl));
            // Amortised: the next sweep waits until the map has doubled again.
            self.prune_at = (self.entries.len() * 2).max(PRUNE_FLOOR);
        }
        self.next_token += 1;
        let token = self.next_token;
        self.entries.insert(key.to_string(), Entry { request, created: now, token, state: State::Running });
        Begin::Execute(Token(token))
    }

    /// Stores the answer, kept `ttl` from `now`, if the entry is still the one
    /// `token`'s `begin` made (not after a reset or a newer execution under the same key).
    pub fn finish(&mut self, key: &str, token: Token, stored: Stored, now: Instant) {
        if let Some(entry) = self.entries.get_mut(key)
            && entry.token == token.0
        {
            entry.state = State::Done(stored);
            entry.created = entry.created.max(now);
        }
    }

    /// Forget a key whose execution never happened, so a retry executes.
    pub fn abandon(&mut self, key: &str, token: Token) {
        if self.entries.get(key).is_some_and(|e| e.token == token.0 && matches!(e.state, State::Running)) {
            self.entries.remove(key);
        }
    }

    /// Keys held (running or stored, expired ones not yet swept).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets every entry; tokens keep counting, so an execution begun before
    /// the clear cannot finish an entry begun after it.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.prune_at = PRUNE_FLOOR;
    }
}
