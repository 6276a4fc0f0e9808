//! All SQL of `tokportal.api_budgets`: the request budget of each API key,
//! shared by every process using the key. One row per key fingerprint; one
//! atomic statement books each request, on the database's clock, so processes
//! on different hosts never compare clocks. The arithmetic is the same as
//! `api::gcra` (the in-memory store runs that code directly).

use anyhow::Context;
use sqlx::PgPool;

use crate::api::gcra::{self, Correction, Reservation, Rule};
use crate::api::store::{BoxFuture, BudgetStore};

pub struct PgBudgetStore {
    pool: PgPool,
}

/// Locks the key's row, computes the send time from the row as it is after
/// any concurrent booking, and books it unless it is beyond the limit: $5
/// sends at once when the last of them may go now, else one (as
/// `api::gcra::reserve`). $2 interval, $3 tolerance, $4 limit, all in seconds.
///
/// A block with more than $6 seconds left (the probe interval) is probed
/// instead: the first booking to reach `probe_at` is the probe (sent now,
/// `probe_at` one interval on); the others book nothing and are told when to
/// ask again: $7 seconds after the last probe (its answer), else the next
/// probe time, never past the block's end.
const RESERVE: &str = r#"
WITH cur AS (
    SELECT key_fingerprint, tat, blocked_until, probe_at, clock_timestamp() AS now
    FROM tokportal.api_budgets
    WHERE key_fingerprint = $1
    FOR UPDATE
), kind AS (
    SELECT cur.*,
           CASE WHEN coalesce(blocked_until - now > make_interval(secs => $6), false)
                THEN CASE WHEN coalesce(probe_at, now) <= now THEN 'probe' ELSE 'recheck' END
                ELSE 'book' END AS kind,
           probe_at - make_interval(secs => $6) + make_interval(secs => $7) AS answered
    FROM cur
), plan AS (
    SELECT key_fingerprint, tat, now, kind,
           CASE kind
               WHEN 'probe' THEN now
               WHEN 'recheck' THEN least(blocked_until, probe_at, CASE WHEN now < answered THEN answered END)
               ELSE greatest(now, tat - make_interval(secs => $3), blocked_until)
           END AS send_at,
           CASE WHEN kind = 'recheck' THEN 0
                WHEN kind = 'book'
                     AND greatest(tat, now) + make_interval(secs => $2 * ($5 - 1)) - make_interval(secs => $3) <= now
                     AND (blocked_until IS NULL OR blocked_until <= now)
                THEN $5 ELSE 1 END AS slots
    FROM kind
)
UPDATE tokportal.api_budgets AS b
SET tat = CASE WHEN p.kind <> 'recheck' AND p.send_at - p.now <= make_interval(secs => $4)
               THEN greatest(p.tat, p.now, p.send_at - make_interval(secs => $3))
                    + make_interval(secs => $2 * p.slots)
               ELSE p.tat END,
    probe_at = CASE WHEN p.kind = 'probe' THEN p.now + make_interval(secs => $6) ELSE b.probe_at END,
    updated_at = p.now
FROM plan AS p
WHERE b.key_fingerprint = p.key_fingerprint
RETURNING extract(epoch FROM p.send_at - p.now)::float8,
          p.send_at - p.now <= make_interval(secs => $4),
          extract(epoch FROM b.tat - p.now)::float8,
          p.slots,
          p.kind
"#;

/// A new key starts with a full bucket (`tat` defaults to now).
const CREATE: &str = "INSERT INTO tokportal.api_budgets (key_fingerprint) VALUES ($1) ON CONFLICT DO NOTHING";

/// Moves the bucket forward only; `greatest` ignores a NULL argument. A
/// block written ($3) puts its next probe $4 seconds away (forward only too).
const CORRECT: &str = r#"
UPDATE tokportal.api_budgets
SET tat = greatest(tat, clock_timestamp() + make_interval(secs => $2)),
    blocked_until = greatest(blocked_until, clock_timestamp() + make_interval(secs => $3)),
    probe_at = CASE WHEN $3::float8 IS NULL OR $4::float8 IS NULL THEN probe_at
                    ELSE greatest(probe_at, clock_timestamp() + make_interval(secs => $4)) END,
    updated_at = clock_timestamp()
WHERE key_fingerprint = $1
"#;

/// A probe got through: no block, no probe, and the bucket booked at least
/// $2 seconds ahead (as `api::gcra::lift`).
const LIFT: &str = r#"
UPDATE tokportal.api_budgets
SET blocked_until = NULL,
    probe_at = NULL,
    tat = greatest(tat, clock_timestamp() + make_interval(secs => $2)),
    updated_at = clock_timestamp()
WHERE key_fingerprint = $1
"#;

impl PgBudgetStore {
    /// Fails with a clear message when the migrations have not been applied.
    pub async fn new(pool: PgPool) -> anyhow::Result<PgBudgetStore> {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('tokportal.api_budgets') IS NOT NULL")
            .fetch_one(&pool)
            .await
            .context("Failed to look for the table tokportal.api_budgets")?;
        anyhow::ensure!(
            exists,
            "the table tokportal.api_budgets does not exist in this database: run `worker migrate` first"
        );
        Ok(PgBudgetStore { pool })
    }

    async fn reserve_row(
        &self,
        key: &str,
        rule: Rule,
        limit: f64,
        count: u32,
        probe_every: f64,
    ) -> anyhow::Result<Reservation> {
        // An int4 on the SQL side; no sane batch comes near the bound.
        let count = i32::try_from(count.max(1)).unwrap_or(i32::MAX);
        for _ in 0..2 {
            let row: Option<(f64, bool, f64, i32, String)> = sqlx::query_as(RESERVE)
                .bind(key)
                .bind(rule.interval)
                .bind(rule.tolerance)
                .bind(limit)
                .bind(count)
                // Seconds a Postgres interval can hold: "never probe" is infinite in Rust.
                .bind(probe_every.min(1e9))
                .bind(gcra::PROBE_ANSWER)
                .fetch_optional(&self.pool)
                .await
                .context("Failed to book a request in tokportal.api_budgets")?;
            if let Some((wait, granted, booked_ahead, slots, kind)) = row {
                let slots = if granted { u32::try_from(slots).unwrap_or(1) } else { 0 };
                let (probe, recheck) = (kind == "probe", kind == "recheck");
                return Ok(Reservation { wait, granted, booked_ahead, slots, probe, recheck });
            }
            // First use of this key (or its row was deleted): create it and book again.
            sqlx::query(CREATE)
                .bind(key)
                .execute(&self.pool)
                .await
                .context("Failed to create the key's row in tokportal.api_budgets")?;
        }
        anyhow::bail!("the key's row in tokportal.api_budgets disappeared twice while booking a request")
    }
}

impl BudgetStore for PgBudgetStore {
    fn reserve<'a>(
        &'a self,
        key: &'a str,
        rule: Rule,
        limit: f64,
        count: u32,
        probe_every: f64,
    ) -> BoxFuture<'a, anyhow::Result<Reservation>> {
        Box::pin(self.reserve_row(key, rule, limit, count, probe_every))
    }

    fn correct<'a>(&'a self, key: &'a str, correction: Correction) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            sqlx::query(CORRECT)
                .bind(key)
                .bind(correction.tat_at_least)
                .bind(correction.block_for)
                .bind(correction.probe_in.map(|p| p.min(1e9)))
                .execute(&self.pool)
                .await
                .context("Failed to record a correction in tokportal.api_budgets")?;
            Ok(())
        })
    }

    fn lift<'a>(&'a self, key: &'a str, tat_at_least: f64) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            sqlx::query(LIFT)
                .bind(key)
                .bind(tat_at_least)
                .execute(&self.pool)
                .await
                .context("Failed to lift the key's block in tokportal.api_budgets")?;
            Ok(())
        })
    }
}

/// One key's row as `worker budget show` prints it, in seconds from now:
/// booked until (0 when the bucket has room now), blocked until (none when
/// no block or it has passed), the block's next probe (0 when due; none
/// when no block).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct BudgetRow {
    pub key_fingerprint: String,
    pub booked_for_secs: f64,
    pub blocked_for_secs: Option<f64>,
    pub probe_in_secs: Option<f64>,
    pub updated_secs_ago: f64,
}

/// Every key's row, by fingerprint.
pub async fn rows(pool: &PgPool) -> anyhow::Result<Vec<BudgetRow>> {
    sqlx::query_as(
        "SELECT key_fingerprint,
                greatest(extract(epoch FROM tat - clock_timestamp()), 0)::float8 AS booked_for_secs,
                CASE WHEN blocked_until > clock_timestamp()
                     THEN extract(epoch FROM blocked_until - clock_timestamp())::float8 END AS blocked_for_secs,
                CASE WHEN blocked_until > clock_timestamp()
                     THEN greatest(extract(epoch FROM coalesce(probe_at, clock_timestamp()) - clock_timestamp()), 0)::float8
                END AS probe_in_secs,
                extract(epoch FROM clock_timestamp() - updated_at)::float8 AS updated_secs_ago
         FROM tokportal.api_budgets ORDER BY key_fingerprint",
    )
    .fetch_all(pool)
    .await
    .context("Failed to read tokportal.api_budgets")
}

/// What [`reset`] cleared, in seconds from the moment it did: the booking
/// ahead (0 when the bucket had room) and the block (none when there was none).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct Cleared {
    pub booked_for_secs: f64,
    pub blocked_for_secs: Option<f64>,
}

/// Clears one key's block, probe and booking (a full bucket from now) and
/// says what was there; `None` when the key has no row.
pub async fn reset(pool: &PgPool, key_fingerprint: &str) -> anyhow::Result<Option<Cleared>> {
    sqlx::query_as(
        "WITH old AS (
             SELECT key_fingerprint, tat, blocked_until FROM tokportal.api_budgets
             WHERE key_fingerprint = $1 FOR UPDATE
         )
         UPDATE tokportal.api_budgets b
         SET tat = clock_timestamp(), blocked_until = NULL, probe_at = NULL, updated_at = clock_timestamp()
         FROM old WHERE b.key_fingerprint = old.key_fingerprint
         RETURNING greatest(extract(epoch FROM old.tat - clock_timestamp()), 0)::float8 AS booked_for_secs,
                   CASE WHEN old.blocked_until > clock_timestamp()
                        THEN extract(epoch FROM old.blocked_until - clock_timestamp())::float8 END
                       AS blocked_for_secs",
    )
    .bind(key_fingerprint)
    .fetch_optional(pool)
    .await
    .context("Failed to reset the key's row in tokportal.api_budgets")
}
