//! One run of a list stream: every page (or, for a routine run, a ledger's
//! head or the items changed since the last run: [`Routine`]), each page in one transaction with the ids it delivered and the
//! checkpoint, so a run stopped in any way resumes from its last committed
//! page (read again: one page back), and only a complete walk that read
//! every page itself may mark rows deleted.

use chrono::{DateTime, SecondsFormat, Utc};
use tokio_util::sync::CancellationToken;

use super::context::Mirror;
use super::pages::{End, pages};
use super::streams::{ListStream, Routine};
use super::summary::{RunSummary, Status};
use super::tally::Tally;
use super::{deletes, problems, runs, store};

pub async fn run(
    m: &Mirror,
    stream: &'static ListStream,
    cancel: &CancellationToken,
) -> anyhow::Result<RunSummary> {
    let resume = runs::resume_point(&m.pool, stream.name).await?;
    let reading = next_reading(m, stream, resume.is_some()).await?;
    let routine = reading != Reading::All;
    let kind = match (resume, routine) {
        (Some(_), _) => "resumed",
        (None, true) => "routine",
        (None, false) => "full",
    };
    let start_page = resume.map_or(1, |r| r.last_page);
    let resumed_from = resume.map(|r| r.last_page);
    let (run_id, started) = runs::start(&m.pool, stream.name, kind, resumed_from, None).await?;
    match resume {
        Some(r) => tracing::info!(
            stream = stream.name,
            run = run_id,
            page = start_page,
            interrupted_run = r.run_id,
            "resuming an interrupted walk from its last committed page"
        ),
        None => tracing::info!(stream = stream.name, run = run_id, kind, "walk started"),
    }
    // A full walk into a table holding no row at its start can miss none:
    // nothing to count missed, no seen set to check (a first sync, say).
    let empty_at_start = kind == "full" && store::is_empty(&m.pool, stream).await?;
    let before = m.client.counters();
    let mut tally = Tally::default();
    let walked = pages(m, stream, run_id, start_page, &reading, &mut tally, &before, cancel).await;
    let (status, complete, mut note, error) = match walked {
        Ok(End::Complete) => match &reading {
            // Every page of the changes, not of the list: a routine run never deletes.
            Reading::Since { param, value } => (
                Status::Succeeded,
                false,
                Some(format!("routine run: the items changed since {param}={value}")),
                None,
            ),
            _ => (Status::Succeeded, true, None, None),
        },
        Ok(End::Head) => {
            (Status::Succeeded, false, Some("routine run: stopped at rows already held".into()), None)
        }
        Ok(End::Cancelled) => {
            (Status::Interrupted, false, Some("stopped between pages; resumes next run".into()), None)
        }
        Err(e) => (Status::Failed, false, None, Some(e)),
    };
    let seen_lost = status == Status::Succeeded && complete && kind == "full" && !empty_at_start && {
        let held = runs::seen_count(&m.pool, run_id).await?;
        held < tally.items
    };
    if seen_lost {
        note = Some(
            "the ids this walk saw were lost (did Postgres restart during the walk?): no row was marked deleted \
             this run"
                .into(),
        );
        tracing::warn!(stream = stream.name, run = run_id, "{}", note.as_deref().unwrap_or_default());
    } else if status == Status::Succeeded && complete && kind == "full" {
        problems::forget_pages_before(&m.pool, stream.name, started).await?;
        let settled = if empty_at_start {
            Ok(None)
        } else {
            deletes::settle(m, stream, run_id, started, &mut tally).await
        };
        match settled {
            Ok(settled) => note = settled,
            Err(e) => {
                tally.spent(&m.client.counters(), &before);
                return finish(
                    m,
                    stream,
                    run_id,
                    kind,
                    resumed_from,
                    Status::Failed,
                    true,
                    tally,
                    note,
                    Some(e),
                )
                .await;
            }
        }
    } else if complete && kind == "resumed" {
        note = Some("resumed walk: rows it did not see are left for the next full walk".into());
    }
    tally.spent(&m.client.counters(), &before);
    finish(m, stream, run_id, kind, resumed_from, status, complete, tally, note, error).await
}

/// What the next run of `stream` reads, `resuming` an interrupted walk or
/// not: a routine run between full walks where the stream has one (an
/// interrupted routine run is not resumed: it is short, and the next one
/// reads from the same last success), else every page.
pub(super) async fn next_reading(m: &Mirror, stream: &ListStream, resuming: bool) -> anyhow::Result<Reading> {
    let (last_full, last_success) = runs::last_starts(&m.pool, stream.name).await?;
    let routine = stream.routine != Routine::Never
        && !resuming
        && last_full.is_some_and(|at| {
            Utc::now().signed_duration_since(at).to_std().unwrap_or_default() < m.settings.full_walk_every
        });
    Ok(match stream.routine {
        _ if !routine => Reading::All,
        Routine::Never => Reading::All,
        Routine::Head => Reading::Head,
        Routine::Since { param } => match last_success {
            Some(at) => Reading::Since { param, value: since_value(at, m.settings.since_overlap) },
            // Only a resumed walk completed since the last success: the
            // pages before its resume point were read by a run whose start
            // is not recorded with it, so read everything.
            None => Reading::All,
        },
    })
}

/// What one run reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Reading {
    /// Every page of the list (a full or resumed walk).
    All,
    /// A ledger's head: pages until one made only of rows already held.
    Head,
    /// Every page of `{path}?{param}={value}`.
    Since { param: &'static str, value: String },
}

/// The `since` value of a routine run: `last` (the start of the last
/// successful run) minus `overlap`, in RFC 3339 UTC to the second, rounded
/// down, so a change the previous run may have missed (it happened while
/// that run was reading, or the two clocks differ) is read again.
pub fn since_value(last: DateTime<Utc>, overlap: std::time::Duration) -> String {
    let overlap = chrono::Duration::from_std(overlap).unwrap_or(chrono::Duration::MAX);
    let at = last.checked_sub_signed(overlap).unwrap_or(DateTime::<Utc>::MIN_UTC);
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[allow(clippy::too_many_arguments)]
async fn finish(
    m: &Mirror,
    stream: &'static ListStream,
    run_id: i64,
    kind: &'static str,
    resumed_from_page: Option<u32>,
    status: Status,
    complete: bool,
    tally: Tally,
    note: Option<String>,
    error: Option<anyhow::Error>,
) -> anyhow::Result<RunSummary> {
    let status = status.with_problems(tally.problems);
    RunSummary { run_id, stream: stream.name, kind, status, complete, resumed_from_page, tally, note, error }
        .recorded(m)
        .await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{TimeZone, Utc};

    use super::since_value;

    #[test]
    fn since_reads_back_the_overlap_in_rfc3339_utc_rounded_down_to_the_second() {
        let last =
            Utc.with_ymd_and_hms(2026, 12, 6, 8, 15, 30).unwrap() + chrono::Duration::milliseconds(900);
        assert_eq!(since_value(last, Duration::from_secs(600)), "2026-12-06T08:05:30Z");
        assert_eq!(since_value(last, Duration::ZERO), "2026-12-06T08:15:30Z");
    }
}
