//! One database mirrors one account: all SQL of `tokportal.mirror_account`.
//! The first sync binds the mirror to the account of its key (the `id` of
//! `GET /me`) before it writes anything ([`ensure`]); every run that writes
//! (a sync, `--once`, the daemon's cycles) checks it first, webhook refreshes
//! once a sync bound it ([`ensure_if_bound`]), and a key of
//! another account is refused before anything is written: the mirror would
//! otherwise mark the first account's rows deleted one confirmed 404 at a
//! time. A key whose `GET /me` named the bound account is remembered by its
//! fingerprint (a key's account does not change), so checking it again
//! costs no request. [`rebind`] (`worker mirror rebind --yes`) empties the
//! mirror and binds it to the key's account.

use anyhow::Context;
use serde_json::Value;
use sqlx::{PgExecutor, PgPool};

use super::{
    child_refreshes, child_store, nested_store, parent_fetches, problems, runs, snapshot_store, store,
};
use crate::api::{ApiError, Client};

const ME: &str = "/me";

/// The account the key belongs to: the `id` of `GET /me`. The reference
/// names the endpoint but not its body: read as `data.id` (the envelope of
/// every singleton), else a top-level `id`; a string or a number.
pub async fn of_key(client: &Client) -> anyhow::Result<String> {
    let me = client.get(ME, &[]).await?;
    let body = &me.body;
    let id = body.get("data").and_then(|d| d.get("id")).or_else(|| body.get("id"));
    match id {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => anyhow::bail!("GET {ME}: no account `id` in the answer: {}", super::rows::excerpt(body)),
    }
}

/// The account this database mirrors and the fingerprints of the keys
/// known to belong to it, if a run bound it.
pub async fn bound<'e>(db: impl PgExecutor<'e>) -> anyhow::Result<Option<(String, Vec<String>)>> {
    sqlx::query_as("SELECT account_id, key_fingerprints FROM tokportal.mirror_account")
        .fetch_optional(db)
        .await
        .context("Failed to read the account this database mirrors")
}

/// Checks that the key's account is the one the database mirrors, binding
/// it when no run has. A key of another account is an error whose exit
/// status is 2, naming both accounts and the way out; nothing is written.
pub async fn ensure(pool: &PgPool, client: &Client) -> anyhow::Result<String> {
    let held = bound(pool).await?;
    check(pool, client, held).await
}

/// [`ensure`] for a sync whose first stream is `first`: at the first sync of
/// a database, `GET /me` and page 1 of that stream's walk (a full walk from
/// page 1, since nothing was mirrored yet) are in flight together, so the
/// walk does not wait one more round trip, and the pages after page 1 are
/// read ahead as soon as it tells how many there are. Pages are only read:
/// the run takes them once the account is checked, and nothing is written before.
pub async fn ensure_reading_ahead(m: &super::Mirror, first: Option<&str>) -> anyhow::Result<String> {
    let held = bound(&m.pool).await?;
    if held.is_none()
        && let Some(super::streams::Stream::List(list)) = first.and_then(super::streams::find)
        && super::walk::next_reading(m, list, false).await? == super::walk::Reading::All
    {
        let fetcher =
            crate::api::Walk::new(m.client.clone(), list.path, Vec::new(), m.settings.per_page)?.fetcher();
        let mut ahead = crate::api::ahead::Ahead::new(fetcher, m.in_flight_memory);
        ahead.ask(1);
        // The pages after page 1 go as soon as it is answered: the bucket is
        // full now, and a full bucket refills nothing while the check goes on.
        let checked = tokio::select! {
            checked = check(&m.pool, &m.client, held) => checked,
            never = ahead.prime(1) => match never {},
        };
        m.keep_first_page(list.name, ahead);
        return checked;
    }
    check(&m.pool, &m.client, held).await
}

/// [`ensure`] on what [`bound`] read.
async fn check(
    pool: &PgPool,
    client: &Client,
    held: Option<(String, Vec<String>)>,
) -> anyhow::Result<String> {
    let fingerprint = client.key_fingerprint();
    if let Some((account, keys)) = &held
        && keys.contains(&fingerprint)
    {
        return Ok(account.clone());
    }
    let account = of_key(client).await?;
    if let Some((held, _)) = held.filter(|(held, _)| *held != account) {
        return Err(ApiError::Invalid {
            request: format!("GET {ME}"),
            message: format!(
                "this database mirrors account {held}, and the key belongs to account {account}: \
                 nothing was written. Point DATABASE_URL at a fresh database for account {account}, \
                 or run `worker mirror rebind --yes` to empty this mirror and bind it to {account}"
            ),
        }
        .into());
    }
    let mut conn = pool.acquire().await.context("Failed to get a connection")?;
    let added = sqlx::query(
        "INSERT INTO tokportal.mirror_account (account_id, key_fingerprints) VALUES ($1, ARRAY[$2]) \
         ON CONFLICT (only_row) DO UPDATE SET key_fingerprints = array_append( \
             array_remove(mirror_account.key_fingerprints, $2), $2) \
         WHERE mirror_account.account_id = $1",
    )
    .bind(&account)
    .bind(&fingerprint)
    .execute(&mut *conn)
    .await
    .context("Failed to bind the mirror to its account")?;
    anyhow::ensure!(
        added.rows_affected() == 1,
        "another process bound this mirror to another account meanwhile"
    );
    tracing::info!(account = %account, key = %fingerprint, "the mirror holds the key's account");
    Ok(account)
}

/// [`ensure`] once a sync bound the mirror; before, nothing (a webhook
/// refresh never binds: the first sync does, before it writes).
pub async fn ensure_if_bound(pool: &PgPool, client: &Client) -> anyhow::Result<()> {
    let held = bound(pool).await?;
    if held.is_some() {
        check(pool, client, held).await?;
    }
    Ok(())
}

/// Empties every mirrored table and the walks' history, then binds the
/// mirror to the key's account, in one transaction. Returns the account
/// held before, if any, and the new one.
pub async fn rebind(pool: &PgPool, client: &Client) -> anyhow::Result<(Option<String>, String)> {
    let account = of_key(client).await?;
    let mut tx = pool.begin().await.context("Failed to start a transaction")?;
    let held = bound(&mut *tx).await?.map(|(held, _)| held);
    child_store::empty(&mut tx).await?;
    child_refreshes::empty(&mut tx).await?;
    nested_store::empty(&mut tx).await?;
    snapshot_store::empty(&mut tx).await?;
    parent_fetches::empty(&mut tx).await?;
    store::empty(&mut tx).await?;
    problems::empty(&mut tx).await?;
    runs::empty(&mut tx).await?;
    sqlx::query(
        "INSERT INTO tokportal.mirror_account (account_id, key_fingerprints) VALUES ($1, ARRAY[$2]) \
         ON CONFLICT (only_row) DO UPDATE SET account_id = $1, key_fingerprints = ARRAY[$2], bound_at = now()",
    )
    .bind(&account)
    .bind(client.key_fingerprint())
    .execute(&mut *tx)
    .await
    .context("Failed to record the account this database mirrors")?;
    tx.commit().await.context("Failed to commit the emptied mirror")?;
    Ok((held, account))
}
