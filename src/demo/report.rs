//! What the demo prints: rows mirrored, jobs and how they got through the
//! failures, each job's executions and credits checked against the
//! simulator's ledger, the budget against the token-bucket optimum, and SQL
//! to try next (run once here, so a throwaway cluster shows its answers too).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;

use crate::jobs::queue::Job;
use crate::mirror::runs::Tally;
use crate::sim::{FaultsFired, LedgerEntry};

/// The example queries, as a user would type them.
pub const QUERIES: &[(&str, &str)] = &[
    (
        "live bundles by status",
        "SELECT status, count(*) FROM tokportal.bundles WHERE deleted_at IS NULL GROUP BY status ORDER BY 2 DESC",
    ),
    (
        "the mutation queue",
        "SELECT id, method, path, status, attempts, replayed, credits_charged FROM tokportal.mutation_jobs ORDER BY id",
    ),
    (
        "every send of one job",
        "SELECT job_id, attempt, http_status, outcome, replayed FROM tokportal.mutation_attempts ORDER BY job_id, attempt LIMIT 8",
    ),
    (
        "video slots of the newest bundles",
        "SELECT b.id, b.platform, v.position, v.data->>'status' AS slot FROM tokportal.bundles b \
         JOIN tokportal.bundle_videos v ON v.bundle_id = b.id ORDER BY b.created_at DESC, v.position LIMIT 5",
    ),
    (
        "delivered accounts of bundles, their latest ban and analytics (a view)",
        "SELECT bundle_id, status, username, account_status, latest_ban_status, followers \
         FROM tokportal.bundle_overview WHERE account_id IS NOT NULL \
         ORDER BY latest_ban_at DESC NULLS LAST, bundle_id LIMIT 5",
    ),
    (
        "the walks",
        "SELECT id, stream, kind, status, pages, items, inserted, updated, deleted, requests FROM tokportal.sync_runs ORDER BY id",
    ),
];

/// One pass of the mirror over every stream.
pub struct Phase {
    pub runs: Vec<(&'static str, Tally)>,
    /// Requests the simulator counted for the key during the pass.
    pub requests: u64,
    pub wall: Duration,
}

#[derive(Debug, Default)]
pub struct Replay {
    pub drains: u32,
    pub retried: u64,
    pub wall: Duration,
}

pub struct Summary<'a> {
    pub mirrored: Phase,
    pub again: Phase,
    pub replay: Replay,
    pub jobs: &'a [Job],
    pub finished: &'a [Job],
    pub ledger: &'a [LedgerEntry],
    pub fired: FaultsFired,
    pub burst: u32,
    pub rate: f64,
}

impl Summary<'_> {
    fn executions(&self) -> HashMap<&str, (usize, i64)> {
        let mut by_key: HashMap<&str, (usize, i64)> = HashMap::new();
        for entry in self.ledger {
            if let Some(key) = entry.idempotency_key.as_deref() {
                let e = by_key.entry(key).or_default();
                e.0 += 1;
                e.1 += entry.credits_debited;
            }
        }
        by_key
    }

    /// Credits the simulator debited (its whole ledger: nothing but the
    /// demo's jobs spends) and the sum of the jobs' recorded `credits_charged`.
    fn credits(&self) -> (i64, f64) {
        let debited = self.ledger.iter().map(|e| e.credits_debited).sum();
        let recorded = self.ours().filter_map(|j| j.credits_charged).sum();
        (debited, recorded)
    }

    /// The demo's jobs as they finished, in enqueue order.
    fn ours(&self) -> impl Iterator<Item = &Job> {
        self.jobs.iter().filter_map(|o| self.finished.iter().find(|j| j.id == o.id))
    }

    pub fn print(&self) {
        let m = &self.mirrored;
        crate::outln!();
        crate::outln!("mirrored (first pass, {:.1} s)", m.wall.as_secs_f64());
        for (stream, t) in &m.runs {
            crate::outln!(
                "  {stream:<20} {:>6} rows inserted, {:>4} pages, {:>5} requests",
                t.inserted,
                t.pages,
                t.requests
            );
        }
        let optimum = (m.requests as f64 - f64::from(self.burst)).max(0.0) / self.rate;
        if optimum >= 1.0 {
            crate::outln!(
                "  budget: {} requests in {:.1} s; the token bucket allows them in {optimum:.1} s at best (ratio {:.2})",
                m.requests,
                m.wall.as_secs_f64(),
                m.wall.as_secs_f64() / optimum
            );
        } else {
            crate::outln!(
                "  budget: {} requests in {:.1} s, nearly all within the burst of {}: the bucket did not limit this pass",
                m.requests,
                m.wall.as_secs_f64(),
                self.burst
            );
        }
        let (rate_limited, waited): (u64, f64) = m
            .runs
            .iter()
            .chain(&self.again.runs)
            .fold((0, 0.0), |(r, w), (_, t)| (r + t.rate_limited, w + t.budget_wait_secs));
        crate::outln!(
            "  both passes: {rate_limited} answered 429; {waited:.1} s waiting for budget, summed over the streams"
        );

        crate::outln!();
        crate::outln!(
            "replayed {} mutations in {:.1} s while the simulator failed {} sends (503) and dropped {} answers after executing",
            self.jobs.len(),
            self.replay.wall.as_secs_f64(),
            self.fired.failed,
            self.fired.dropped
        );
        let executions = self.executions();
        for job in self.ours() {
            let (runs, credits) = executions.get(job.idempotency_key.as_str()).copied().unwrap_or_default();
            crate::outln!(
                "  job {:>3} {:<6} {:<48} {:<9} {} attempt(s){} | ledger: executed {runs}x, {credits} credits",
                job.id,
                job.method,
                job.path,
                job.status,
                job.attempts.max(1),
                if job.replayed == Some(true) { ", answer replayed by the API" } else { "" },
            );
        }
        let succeeded = self.ours().filter(|j| j.status == "succeeded").count();
        let once = self
            .ours()
            .filter(|j| executions.get(j.idempotency_key.as_str()).map(|e| e.0) == Some(1))
            .count();
        let (debited, recorded) = self.credits();
        crate::outln!("  jobs succeeded: {succeeded} of {}", self.jobs.len());
        crate::outln!("  executed exactly once (simulator's ledger): {once} of {}", self.jobs.len());
        crate::outln!(
            "  credits debited by the simulator: {debited}; charged according to the jobs: {recorded}"
        );

        crate::outln!();
        crate::outln!("mirrored again ({:.1} s)", self.again.wall.as_secs_f64());
        for (stream, t) in &self.again.runs {
            crate::outln!(
                "  {stream:<20} {:>4} inserted, {:>4} updated, {:>4} deleted, {:>5} requests",
                t.inserted,
                t.updated,
                t.deleted,
                t.requests
            );
        }
    }

    /// Fails unless every job succeeded and ran exactly once, and the credits
    /// the simulator debited are the credits the jobs recorded as charged.
    pub fn verdict(&self) -> anyhow::Result<()> {
        let executions = self.executions();
        for job in self.ours() {
            anyhow::ensure!(job.status == "succeeded", "job {} ended {}", job.id, job.status);
            let runs = executions.get(job.idempotency_key.as_str()).map(|e| e.0).unwrap_or(0);
            anyhow::ensure!(runs == 1, "job {} was executed {runs} times by the simulator", job.id);
        }
        let (debited, recorded) = self.credits();
        // Both are whole credits today; credits_charged is numeric, so compare to the cent.
        anyhow::ensure!(
            (debited as f64 - recorded).abs() < 0.005,
            "the simulator's ledger debited {debited} credits but the jobs recorded {recorded} \
             (the sum of their credits_charged): a charge was missed, or made without its job knowing"
        );
        crate::outln!(
            "\nevery job succeeded and was executed, and charged, exactly once \
             ({debited} credits, as the simulator's ledger says)"
        );
        Ok(())
    }
}

/// Runs [`QUERIES`] and returns them with their first rows, one JSON object a row.
pub async fn run_queries(pool: &PgPool) -> anyhow::Result<String> {
    let mut out = String::from("\nsample queries and their answers here:\n");
    for (title, sql) in QUERIES {
        let rows: serde_json::Value = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT coalesce(json_agg(q), '[]') FROM ({sql}) q"
        )))
        .fetch_one(pool)
        .await
        .with_context(|| format!("Failed to run the sample query {title:?}"))?;
        let _ = writeln!(out, "\n-- {title}\n{sql};");
        for row in rows.as_array().into_iter().flatten().take(6) {
            let _ = writeln!(out, "   {row}");
        }
    }
    Ok(out)
}

/// How to look at the kept database, or why there is none.
pub fn try_next(kept_at: Option<&str>) {
    crate::outln!();
    match kept_at {
        Some(url) => {
            crate::outln!("the data stays in {url}; try:");
            for (_, sql) in QUERIES.iter().take(3) {
                crate::outln!("  psql '{url}' -c \"{sql}\"");
            }
        }
        None => crate::outln!(
            "the throwaway cluster is gone; to keep the data, run the demo with DATABASE_URL set \
             (or with a PostgreSQL server on 127.0.0.1:5432, user postgres) and query the tables above"
        ),
    }
}
