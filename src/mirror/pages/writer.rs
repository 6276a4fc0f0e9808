//! Up to three page transactions in flight ([`super::PAGES_IN_FLIGHT`]): a
//! page's transaction (the lookup of its ids in the seen set, its rows, its
//! problems) runs while the pages before it still write, record their ids
//! and checkpoint and commit, each on a connection of its own. Pages still
//! commit strictly one after the other, in the order read:
//!
//! - Each page's transaction takes, as it begins, an exclusive
//!   transaction-level advisory lock keyed by the run and the page's place in
//!   the run; before recording its ids and checkpoint, the next page waits for
//!   that lock (shared), that is for the page before it to commit or roll
//!   back. The wait is one Postgres sees, so a cycle through another writer
//!   (a refresh holding a row one page wrote and waiting for a row of the
//!   other) is a deadlock Postgres detects and breaks, never a hang.
//! - Once it has waited, the page commits only if the page before it
//!   committed; else it rolls back, and so does every page after it. Nothing
//!   after the last committed page is ever committed; the next run resumes
//!   there.
//! - The seen set in Postgres does not show the ids of the pages not yet
//!   committed: they are looked up in memory ([`Writer::begin`]), so the
//!   cursor knows them. Pages in flight therefore never write the same
//!   row of the mirrored table (an id is delivered once per walk) nor of the
//!   seen set (a page records its ids and anchors only after the page before
//!   it committed, so its `UPDATE` of anchors sees that page's ids).

use anyhow::Context;
use sqlx::{AssertSqlSafe, Postgres, Transaction};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::maybe_seen::MaybeSeen;
use super::{PAGE_TRANSACTION, Poison};
use crate::api::cursor::{Absorbed, Known, Read};
use crate::api::{Client, CounterSnapshot};
use crate::mirror::rows::Upserted;
use crate::mirror::runs;
use crate::mirror::store::Probe;
use crate::mirror::streams::ListStream;
use crate::mirror::tally::Tally;

/// A page written and committed.
pub(super) struct Written {
    pub read: Read,
    pub total: Option<u64>,
    /// Items the page's answer held.
    pub received: usize,
    pub up: Upserted,
}

/// A page whose transaction is in flight.
struct Pending {
    task: JoinHandle<anyhow::Result<(Written, Tally)>>,
    /// What this page adds to the seen set, until it commits.
    seen: Known,
}

/// One page to write, with what its transaction needs.
pub(super) struct Page {
    pub tx: Transaction<'static, Postgres>,
    pub absorbed: Absorbed,
    pub poison: Vec<Poison>,
    pub read: Read,
    pub forward: Option<u32>,
    pub received: usize,
}

pub(super) struct Writer {
    pool: sqlx::PgPool,
    client: Client,
    stream: &'static ListStream,
    run_id: i64,
    before: CounterSnapshot,
    /// The tally of the last page committed.
    tally: Tally,
    /// Pages begun in this run: the next page's place.
    begun: u32,
    /// Oldest first; the newest page's sender hands its tally to the next.
    pending: Vec<Pending>,
    handoff: Option<oneshot::Receiver<Tally>>,
    /// How the next page's upsert finds its rows, from the last page committed.
    probe: Probe,
    /// Every id this run recorded or is recording: only those are looked up.
    maybe_seen: MaybeSeen,
}

impl Writer {
    pub(super) fn new(
        pool: sqlx::PgPool,
        client: Client,
        stream: &'static ListStream,
        run_id: i64,
        before: CounterSnapshot,
        tally: Tally,
    ) -> Writer {
        Writer {
            pool,
            client,
            stream,
            run_id,
            before,
            tally,
            begun: 0,
            pending: Vec::new(),
            handoff: None,
            probe: Probe::default(),
            maybe_seen: MaybeSeen::new(),
        }
    }

    /// The tally of the last page committed.
    pub(super) fn tally(&self) -> Tally {
        self.tally
    }

    /// Begins the next page's transaction, taking its turn lock, and looks up
    /// which of `ids` the walk has delivered: in the seen set as committed
    /// (those the filter says it may hold: none, on most pages of a walk
    /// whose list holds still), and in the pages not committed yet.
    pub(super) async fn begin(
        &mut self,
        ids: &[String],
    ) -> anyhow::Result<(Transaction<'static, Postgres>, Known)> {
        self.begun += 1;
        let begin = format!("{PAGE_TRANSACTION}; SELECT pg_advisory_xact_lock({})", self.turn(self.begun));
        let mut tx = self
            .pool
            .begin_with(AssertSqlSafe(begin))
            .await
            .context("Failed to start the page's transaction")?;
        let maybe: Vec<String> = ids.iter().filter(|id| self.maybe_seen.may_hold(id)).cloned().collect();
        let mut known =
            if maybe.is_empty() { Known::new() } else { runs::known(&mut tx, self.run_id, &maybe).await? };
        for page in &self.pending {
            for id in ids {
                if let Some(&anchor) = page.seen.get(id) {
                    *known.entry(id.clone()).or_insert(anchor) |= anchor;
                }
            }
        }
        Ok((tx, known))
    }

    /// Writes `page` (begun last) on a task of its own; it commits after
    /// the page before it, and only if that page committed.
    pub(super) fn write(&mut self, page: Page) {
        for (id, _) in &page.absorbed.new_ids {
            self.maybe_seen.insert(id);
        }
        let mut seen: Known = page.absorbed.new_ids.iter().cloned().collect();
        seen.extend(page.absorbed.anchors.iter().map(|id| (id.clone(), true)));
        // With no page in flight, the last one committed (if any) has handed its tally over.
        let after = match self.handoff.take().filter(|_| !self.pending.is_empty()) {
            Some(rx) => After::Page { turn: self.turn(self.begun - 1), rx },
            None => After::Committed(self.tally),
        };
        let (tx, rx) = oneshot::channel();
        self.handoff = Some(rx);
        let job = Job {
            client: self.client.clone(),
            stream: self.stream,
            run_id: self.run_id,
            before: self.before,
            after,
            next: tx,
            probe: self.probe,
        };
        self.pending.push(Pending { task: tokio::spawn(job.run(page)), seen });
    }

    /// Waits until at most `keep` pages are in flight; returns those that
    /// committed meanwhile, in order. After an error, waits for every page
    /// in flight (they roll back) and returns the first page's error.
    pub(super) async fn settle(&mut self, keep: usize) -> anyhow::Result<Vec<Written>> {
        let mut done = Vec::new();
        while self.pending.len() > keep {
            let page = self.pending.remove(0);
            match joined(page.task.await) {
                Ok((written, tally)) => {
                    self.tally = tally;
                    if written.received > 0 {
                        self.probe = Probe::after(&written.up);
                    }
                    done.push(written);
                }
                Err(e) => {
                    for later in self.pending.drain(..) {
                        // They roll back: the page before them did not commit.
                        let _ = joined(later.task.await);
                    }
                    self.handoff = None;
                    return Err(e);
                }
            }
        }
        Ok(done)
    }

    /// The turn lock's key of the run's `n`th page.
    fn turn(&self, n: u32) -> String {
        format!("hashtext('tokportal-sync/page/{}'), {}", self.run_id, n as i32)
    }
}

fn joined<T>(joined: Result<anyhow::Result<T>, tokio::task::JoinError>) -> anyhow::Result<T> {
    match joined {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(anyhow::anyhow!(e).context("A page's write was cancelled")),
    }
}

/// What a page's commit waits for.
enum After {
    /// Nothing in flight before it: the tally it adds to.
    Committed(Tally),
    /// The page before it: its turn lock, and its tally once committed.
    Page { turn: String, rx: oneshot::Receiver<Tally> },
}

struct Job {
    client: Client,
    stream: &'static ListStream,
    run_id: i64,
    before: CounterSnapshot,
    after: After,
    next: oneshot::Sender<Tally>,
    probe: Probe,
}

impl Job {
    async fn run(self, page: Page) -> anyhow::Result<(Written, Tally)> {
        let Page { mut tx, absorbed, poison, read, forward, received } = page;
        let written = async {
            let (up, add) =
                super::upsert_page(&mut tx, self.stream, &absorbed, &poison, read, self.probe).await?;
            let mut tally = match self.after {
                After::Committed(tally) => tally,
                After::Page { turn, rx } => {
                    sqlx::query(AssertSqlSafe(format!("SELECT pg_advisory_xact_lock_shared({turn})")))
                        .execute(&mut *tx)
                        .await
                        .context("Failed to wait for the page before to commit")?;
                    rx.await.map_err(|_| {
                        anyhow::anyhow!("page {} not committed: the page before it failed", read.page)
                    })?
                }
            };
            add(&mut tally);
            tally.spent(&self.client.counters(), &self.before);
            runs::record_page(&mut tx, self.run_id, &absorbed, forward, &tally).await?;
            anyhow::Ok((up, tally))
        }
        .await;
        match written {
            Ok((up, tally)) => {
                tx.commit().await.with_context(|| format!("Failed to commit page {}", read.page))?;
                // The next page may be gone already (its run ended): nothing to hand over then.
                let _ = self.next.send(tally);
                Ok((Written { read, total: absorbed.page.total, received, up }, tally))
            }
            Err(e) => {
                // Ends the transaction now, releasing the turn lock for the page after it.
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }
}
