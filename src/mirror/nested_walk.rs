//! The walk of one parent of a per-parent list stream: every pass (each
//! filter of the stream), every page, each page in one transaction with its
//! rows, the ids it delivered (each pass a seen set of its own) and the
//! parent's checkpoint, from that checkpoint when an earlier run left one.
//! What one parent's failure means ([`Ended`]) is decided here; the run
//! (`nested`) goes on past it.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::child_fetch::one_subjects;
use super::context::Mirror;
use super::pages::PAGE_TRANSACTION;
use super::parent_fetches::{self, Due};
use super::rows::id_of;
use super::streams::NestedStream;
use super::tally::Tally;
use super::{nested_store, problems, runs};
use crate::api::cursor::Absorbed;
use crate::api::{ApiError, CounterSnapshot, Walk};

/// How the walk of one parent ended.
pub(super) enum Ended {
    /// Every page of every pass; `resumed`: it began at a checkpoint.
    Walked {
        resumed: bool,
        started: DateTime<Utc>,
    },
    /// The documented not-found code: the parent is gone.
    Gone,
    /// Set aside; `retryable`: a 5xx or no answer.
    Problem {
        retryable: bool,
    },
    /// The run's requests are spent: the checkpoint waits for the next run.
    Capped,
    Cancelled,
}

/// The seen set's prefix of the ids a parent's `pass` delivered: each pass
/// is a walk of its own (an item that moves from one filter's list to the
/// other between the two is not taken for an anchor of the second).
pub(super) fn scope(pass: usize) -> String {
    format!("{pass}:")
}

/// Walks every pass of one parent (from its checkpoint, if it has one).
#[allow(clippy::too_many_arguments)]
pub(super) async fn walk_parent(
    m: &Mirror,
    stream: &'static NestedStream,
    due: &Due,
    run_id: i64,
    run_started: DateTime<Utc>,
    tally: &mut Tally,
    before: &CounterSnapshot,
    cancel: &CancellationToken,
) -> anyhow::Result<Ended> {
    let id = due.id.as_str();
    let path = format!("{}{id}{}", stream.prefix, stream.suffix);
    let resume = due.resume().filter(|(_, pass, _)| *pass < stream.passes.len());
    let (started, first_pass, first_page) = resume.unwrap_or((run_started, 0, 1));
    for (pass, (name, value)) in stream.passes.iter().enumerate().skip(first_pass) {
        let page = if pass == first_pass { first_page } else { 1 };
        let query = vec![(name.to_string(), value.to_string())];
        let mut walk = Walk::new(m.client.clone(), &path, query, m.settings.per_page)?.starting_at(page);
        let prefix = scope(pass);
        let mut forward = None;
        while let Some(read) = walk.next_read() {
            if cancel.is_cancelled() {
                return Ok(Ended::Cancelled);
            }
            tally.spent(&m.client.counters(), before);
            if tally.requests >= u64::from(m.settings.max_requests_per_run) {
                return Ok(Ended::Capped);
            }
            let list = match walk.fetch(read).await {
                Ok(list) => list,
                Err(ApiError::NotFound { code, .. }) if stream.gone_codes.contains(&code.as_str()) => {
                    return Ok(Ended::Gone);
                }
                Err(e) if e.is_cancelled() => return Ok(Ended::Cancelled),
                Err(e) => {
                    let Some((code, retryable)) = one_subjects(&e) else { return Err(e.into()) };
                    record(m, stream, id, &code, &format!("{e}"), tally).await?;
                    return Ok(Ended::Problem { retryable });
                }
            };
            let scoped: Vec<String> =
                list.data.iter().filter_map(id_of).map(|i| format!("{prefix}{i}")).collect();
            let mut tx = m
                .pool
                .begin_with(PAGE_TRANSACTION)
                .await
                .context("Failed to start the page's transaction")?;
            let known: HashMap<String, bool> = runs::known(&mut tx, run_id, &scoped)
                .await?
                .into_iter()
                .map(|(k, anchor)| (k[prefix.len()..].to_string(), anchor))
                .collect();
            let mut absorbed = walk.cursor_mut().absorb(read, list, &known);
            let before_poison = absorbed.page.items.len();
            absorbed.page.items.retain(|item| id_of(item).is_some());
            let poison = before_poison - absorbed.page.items.len();
            if poison > 0 {
                let subject = format!("{id} page {} pass {pass}", read.page);
                let text = format!("{poison} items without a string or number `id`");
                problems::record(&mut tx, stream.name, &subject, "NO_ID", &text).await?;
                tracing::warn!(
                    stream = stream.name,
                    parent = id,
                    page = read.page,
                    poison,
                    "list items set aside"
                );
                tally.problems += 1;
            }
            let up = nested_store::upsert_page(&mut tx, stream, id, &absorbed.page.items)
                .await
                .with_context(|| format!("GET {path} page {}", read.page))?;
            tally.pages += 1;
            tally.rereads += u64::from(read.reread);
            tally.items += absorbed.page.items.len() as u64;
            tally.inserted += up.inserted;
            tally.updated += up.updated + up.revived;
            tally.unchanged += up.unchanged;
            tally.spent(&m.client.counters(), before);
            if !read.reread {
                forward = Some(read.page);
            }
            let seen = Absorbed {
                page: absorbed.page,
                new_ids: absorbed.new_ids.into_iter().map(|(i, a)| (format!("{prefix}{i}"), a)).collect(),
                anchors: absorbed.anchors.into_iter().map(|i| format!("{prefix}{i}")).collect(),
            };
            runs::record_page(&mut tx, run_id, &seen, None, tally).await?;
            if let Some(page) = forward {
                parent_fetches::checkpoint(&mut tx, stream.name, id, started, pass, page).await?;
            }
            tx.commit().await.with_context(|| format!("Failed to commit page {} of {path}", read.page))?;
        }
    }
    Ok(Ended::Walked { resumed: resume.is_some(), started })
}

pub(super) async fn record(
    m: &Mirror,
    stream: &NestedStream,
    id: &str,
    code: &str,
    text: &str,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    problems::set_aside_parent(&m.pool, stream.name, id, code, text, tally).await
}
