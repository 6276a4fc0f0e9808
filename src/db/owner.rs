//! The Postgres session a process's claims are tied to. An [`Owner`] is one
//! connection of its own (outside the pool) holding a session-level advisory
//! lock on a key of its own, `(NAMESPACE, key)`, for as long as it lives.
//! Every claim (a mutation job, a webhook batch) is written on that session
//! and records the key (`claimed_by`), so the lock is held when the claim
//! commits; another process may take a claimed row
//! over as soon as the key's lock is free (`session_ended!`), i.e. as soon
//! as Postgres ends the session: the process died (its socket closed, so
//! the server ends the session at once) or its connection was lost. The
//! claim's lease, renewed while its work is in flight, stays the fallback
//! for a process whose session lives on but that no longer renews (hung, or
//! cut off from the pool).
//!
//! A process alive whose owner session was lost (the server restarted, the
//! network dropped the connection) loses its claims with it, even those whose
//! send is in flight: another process may send the same job again while the
//! first send runs. That second send carries the same idempotency key, so the
//! API answers `IDEMPOTENCY_KEY_IN_PROGRESS` (the job waits and asks again)
//! or replays the first send's answer: nothing executes twice, it costs
//! requests only. The first process's outcome is not recorded (its claim is
//! no longer current). The next claim opens a new session, taking the same
//! key again when it is free.

use std::sync::Arc;

use anyhow::Context;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::{Mutex, MutexGuard};

/// The first half of every owner lock's key (`pg_locks.classid`): apart from
/// the one-number keys of the stream locks and of sqlx's migrator.
macro_rules! namespace {
    () => {
        "1953459056"
    };
}

/// SQL that is true when the owner session named by the column `$col` (a
/// claim's `claimed_by`) no longer holds its lock in this database: the
/// process that claimed the row died or lost its session. False for a row
/// claimed without an owner (NULL).
macro_rules! session_ended {
    ($col:expr) => {
        concat!(
            "(",
            $col,
            " IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_locks l \
             WHERE l.locktype = 'advisory' AND l.classid = ",
            $crate::db::owner::namespace!(),
            "::oid AND l.objsubid = 2 AND l.granted AND l.objid = ",
            $col,
            "::oid AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d \
             WHERE d.datname = current_database())))"
        )
    };
}
pub(crate) use {namespace, session_ended};

/// A process's owner session, opened when first used; clones share it.
#[derive(Clone)]
pub struct Owner(Arc<Inner>);

struct Inner {
    options: PgConnectOptions,
    session: Mutex<Option<Session>>,
    /// The key of the last session, taken again by the next one when free.
    last_key: std::sync::Mutex<Option<i32>>,
}

struct Session {
    conn: PgConnection,
    key: i32,
}

/// The owner session, held for one statement: claims are written on it.
pub struct Held<'a> {
    guard: MutexGuard<'a, Option<Session>>,
}

impl Owner {
    /// An owner connecting like `pool` (nothing is opened yet).
    pub fn new(pool: &PgPool) -> Owner {
        let options = (*pool.connect_options()).clone();
        Owner(Arc::new(Inner { options, session: Mutex::new(None), last_key: Default::default() }))
    }

    /// The session, opened (and its lock taken) if there is none.
    pub async fn session(&self) -> anyhow::Result<Held<'_>> {
        let mut guard = self.0.session.lock().await;
        if guard.is_none() {
            *guard = Some(self.open().await?);
        }
        Ok(Held { guard })
    }

    /// The key of the current session, if one is open.
    pub async fn key(&self) -> Option<i32> {
        self.0.session.lock().await.as_ref().map(|s| s.key)
    }

    /// Ends the session: its claims are free for any process at once. What a
    /// process's death does, for a process that stays (tests; shutdown).
    pub async fn close(&self) {
        if let Some(session) = self.0.session.lock().await.take() {
            let _ = session.conn.close().await;
        }
    }

    async fn open(&self) -> anyhow::Result<Session> {
        let mut conn = PgConnection::connect_with(&self.0.options)
            .await
            .context("Failed to open the session that holds this process's claims")?;
        let last = *self.0.last_key.lock().unwrap_or_else(|p| p.into_inner());
        let mut key = None;
        if let Some(last) = last {
            let sql = concat!("SELECT pg_try_advisory_lock(", namespace!(), ", $1)");
            let locked: bool = sqlx::query_scalar(sql).bind(last).fetch_one(&mut conn).await?;
            key = locked.then_some(last);
        }
        while key.is_none() {
            // A random key; taken by a live session already: another one.
            let sql = concat!(
                "SELECT k FROM (SELECT 1 + floor(random() * 2147483646)::int AS k) c \
                 WHERE pg_try_advisory_lock(",
                namespace!(),
                ", k)"
            );
            key = sqlx::query_scalar(sql).fetch_optional(&mut conn).await?;
        }
        let key = key.expect("a key was taken");
        *self.0.last_key.lock().unwrap_or_else(|p| p.into_inner()) = Some(key);
        Ok(Session { conn, key })
    }
}

impl Held<'_> {
    /// The key claims record (`claimed_by`).
    pub fn key(&self) -> i32 {
        self.guard.as_ref().expect("an open session").key
    }

    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.guard.as_mut().expect("an open session").conn
    }

    /// Passes `result` on; when it is an error and the session no longer
    /// answers, the session is dropped so the next claim opens a new one.
    pub async fn checked<T>(mut self, result: sqlx::Result<T>) -> sqlx::Result<T> {
        if result.is_err() && self.conn().ping().await.is_err() {
            *self.guard = None;
        }
        result
    }
}
