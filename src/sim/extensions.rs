//! The marks requests and answers carry in their extensions between the
//! accept loop, the middleware and the handlers.

use tokio_util::sync::CancellationToken;

/// Put in every request's extensions: cancelling it closes that request's connection.
#[derive(Debug, Clone)]
pub struct ConnKill(pub CancellationToken);

/// Set by mutation handlers on their response: credits the execution debited.
#[derive(Debug, Clone, Copy)]
pub struct Debited(pub i64);

/// Set on the router's own 404/405 (no endpoint matched): a write answered so
/// executed nothing, so it gets no ledger entry and nothing is stored.
#[derive(Debug, Clone, Copy)]
pub struct Unrouted;
