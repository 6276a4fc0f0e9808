//! What a mutation needs: a method that is not GET and an idempotency key.
//! [`Client::mutate`](super::Client::mutate) takes both, so a mutation cannot
//! be sent without a key.

/// The methods that change something. GET is not one of them: it goes
/// through [`Client::get`](super::Client::get), which needs no idempotency key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MutationMethod {
    Post,
    Put,
    Patch,
    Delete,
}

/// An `Idempotency-Key`: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn new(key: impl Into<String>) -> anyhow::Result<IdempotencyKey> {
        let key = key.into();
        anyhow::ensure!(
            (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()),
            "an idempotency key must be 1 to 255 visible ASCII characters"
        );
        Ok(IdempotencyKey(key))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
