//! The Prometheus series of the worker: their names, the recorder behind
//! them (`metrics` + `metrics-exporter-prometheus`, rendered by
//! `server::routes` at `/metrics`), and one function per thing recorded, so
//! the names live here only. Without an installed recorder (every command
//! but the daemon) the calls cost next to nothing.
//!
//! - `zero`: every series at 0 from the daemon's start, its labels taken from
//!   the lists they come from, so `rate()` and `absent()` work before the first event;
//! - [`scrape`]: what is read at each scrape (the clients' counters, and the
//!   queue, the budget's block and the mirror's staleness from Postgres).

mod labels;
pub mod scrape;
mod zero;

use std::sync::OnceLock;

use metrics::{Unit, counter, describe_counter, describe_gauge, gauge};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::api::CounterSnapshot;
use crate::jobs::DrainReport;
use crate::mirror::RunSummary;

pub const API_RESPONSES: &str = "tokportal_api_responses_total";
pub const API_REQUESTS: &str = "tokportal_api_requests_total";
pub const API_RATE_LIMITED: &str = "tokportal_api_rate_limited_total";
pub const API_BUDGET_WAIT: &str = "tokportal_api_budget_wait_seconds_total";
pub const API_BOOKED_AHEAD: &str = "tokportal_api_budget_tokens_booked_ahead";
pub const SYNC_PAGES: &str = "tokportal_sync_pages_total";
pub const SYNC_ROWS: &str = "tokportal_sync_rows_total";
pub const SYNC_RUNS: &str = "tokportal_sync_runs_total";
pub const SYNC_DELETES_UNCHECKED: &str = "tokportal_sync_deletes_unchecked_total";
pub const SYNC_PROBLEMS: &str = "tokportal_sync_problems_total";
pub const SYNC_LAST_SUCCESS: &str = "tokportal_sync_last_success_timestamp_seconds";
pub const JOBS: &str = "tokportal_jobs_total";
pub const QUEUE_DEPTH: &str = "tokportal_jobs_queue_depth";
pub const QUEUE_OLDEST_AGE: &str = "tokportal_jobs_oldest_queued_age_seconds";
pub const WEBHOOK_DELIVERIES: &str = "tokportal_webhook_deliveries_total";
pub const WEBHOOK_EVENTS: &str = "tokportal_webhook_events_refreshed_total";
pub const WEBHOOK_REFRESHES: &str = "tokportal_webhook_refreshes_total";
pub const API_BLOCKED: &str = "tokportal_api_budget_blocked_seconds";
pub const SYNC_DELETES_REFUSED: &str = "tokportal_sync_deletes_refused_total";
pub const SYNC_PROBLEMS_OPEN: &str = "tokportal_sync_problems_open";
pub const QUEUE_OLDEST_DUE: &str = "tokportal_jobs_oldest_due_age_seconds";
pub const WALK_AGE: &str = "tokportal_mirror_oldest_walk_age_seconds";
pub const CHILDREN_AGE: &str = "tokportal_mirror_oldest_active_children_age_seconds";
pub const POSTGRES_UP: &str = "tokportal_postgres_up";

pub use labels::{CLIENTS, Delivery, JOB_OUTCOMES};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder (once) and returns its handle.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| anyhow::anyhow!("Failed to install the metrics recorder: {e}"))?;
    describe();
    zero::every_series();
    Ok(HANDLE.get_or_init(|| handle).clone())
}

fn describe() {
    describe_counter!(API_RESPONSES, "HTTP answers of the TokPortal API, by status");
    describe_counter!(API_REQUESTS, "HTTP requests sent to the TokPortal API, by client (sync, replay)");
    describe_counter!(API_RATE_LIMITED, "429 answers received, by client");
    describe_counter!(
        API_BUDGET_WAIT,
        Unit::Seconds,
        "time requests waited for the key's budget (whole seconds), by client"
    );
    describe_gauge!(API_BOOKED_AHEAD, "sends the budget booked ahead in a batch and has not made yet");
    describe_counter!(SYNC_PAGES, "pages (or child requests) committed, by stream");
    describe_counter!(SYNC_ROWS, "mirrored rows inserted, updated or deleted, by stream and change");
    describe_counter!(SYNC_RUNS, "stream walks finished, by stream and status");
    describe_counter!(
        SYNC_DELETES_UNCHECKED,
        "missing rows a complete walk left live unchecked (more than sync.max_delete_checks), by stream"
    );
    describe_counter!(SYNC_PROBLEMS, "items or bundles set aside in tokportal.sync_problems, by stream");
    describe_gauge!(
        SYNC_LAST_SUCCESS,
        Unit::Seconds,
        "Unix time of the last successful walk this process ran, by stream (0: none yet)"
    );
    describe_counter!(JOBS, "mutation jobs handled, by outcome");
    describe_gauge!(QUEUE_DEPTH, "mutation jobs queued or running");
    describe_gauge!(QUEUE_OLDEST_AGE, Unit::Seconds, "age of the oldest queued job (0 when none)");
    describe_counter!(
        WEBHOOK_DELIVERIES,
        "webhook deliveries received, by outcome (accepted, duplicate, refused, invalid, unstored)"
    );
    describe_counter!(
        WEBHOOK_EVENTS,
        "stored webhook events handled, by kind (known, unknown: refreshed; failed: given up after webhooks.max_attempts)"
    );
    describe_counter!(WEBHOOK_REFRESHES, "refreshes run for batches of webhook events");
    describe_gauge!(
        API_BLOCKED,
        Unit::Seconds,
        "seconds left of the 429 block on the client's key (0 when none)"
    );
    describe_counter!(
        SYNC_DELETES_REFUSED,
        "rows the delete guard kept live (a run would have marked more than sync.max_delete_fraction), by stream"
    );
    describe_gauge!(
        SYNC_PROBLEMS_OPEN,
        "items or bundles set aside in tokportal.sync_problems now, by stream"
    );
    describe_gauge!(
        QUEUE_OLDEST_DUE,
        Unit::Seconds,
        "how long the oldest due job has waited for a worker since it became due (0 when none)"
    );
    describe_gauge!(
        WALK_AGE,
        Unit::Seconds,
        "age of the last walk that brought each enabled list up to date (none: since the daemon started)"
    );
    describe_gauge!(
        CHILDREN_AGE,
        Unit::Seconds,
        "age of the oldest children of a live bundle in a non-terminal status, by child stream (0 when none)"
    );
    describe_gauge!(
        POSTGRES_UP,
        "1 when the last scrape read its gauges from Postgres (reachable and migrated), else 0"
    );
}

/// The HTTP answers of every client of the process as they stand, by status
/// (each client's `(status, count)` pairs, read from its counters).
pub fn api_responses<'a>(clients: impl IntoIterator<Item = &'a [(u16, u64)]>) {
    let mut total = std::collections::BTreeMap::<u16, u64>::new();
    for (status, n) in clients.into_iter().flatten() {
        *total.entry(*status).or_default() += n;
    }
    for (status, n) in total {
        counter!(API_RESPONSES, "status" => status.to_string()).absolute(n);
    }
}

/// A client's counters as they stand (`client`: "sync" or "replay").
pub fn api_counters(client: &'static str, c: &CounterSnapshot) {
    counter!(API_REQUESTS, "client" => client).absolute(c.requests);
    counter!(API_RATE_LIMITED, "client" => client).absolute(c.rate_limited);
    // A counter, as its `_total` says (rate() over it is the share of time
    // spent waiting); `metrics` counters are integers, so whole seconds: the
    // floor of the running total is under a second behind, which a rate over
    // minutes does not see.
    counter!(API_BUDGET_WAIT, "client" => client).absolute(c.budget_wait.as_secs());
    gauge!(API_BOOKED_AHEAD, "client" => client).set(f64::from(c.booked_ahead));
}

/// One finished walk of a stream.
pub fn run_finished(run: &RunSummary) {
    let stream = run.stream;
    let t = &run.tally;
    counter!(SYNC_PAGES, "stream" => stream).increment(t.pages);
    for (change, n) in labels::ROW_CHANGES.into_iter().zip([t.inserted, t.updated, t.deleted]) {
        counter!(SYNC_ROWS, "stream" => stream, "change" => change).increment(n);
    }
    counter!(SYNC_DELETES_UNCHECKED, "stream" => stream).increment(t.delete_unchecked);
    counter!(SYNC_PROBLEMS, "stream" => stream).increment(t.problems);
    counter!(SYNC_DELETES_REFUSED, "stream" => stream).increment(t.delete_refused);
    counter!(SYNC_RUNS, "stream" => stream, "status" => run.status.as_str()).increment(1);
    if run.status.succeeded() {
        let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
        gauge!(SYNC_LAST_SUCCESS, "stream" => stream).set(now);
    }
}

/// What one drain of the queue did.
pub fn drained(r: &DrainReport) {
    let counts = [
        r.succeeded,
        r.retrying,
        r.failed,
        r.expired,
        r.superseded,
        r.released,
        u64::from(r.key_refused.is_some()),
    ];
    for (outcome, n) in JOB_OUTCOMES.into_iter().zip(counts) {
        counter!(JOBS, "outcome" => outcome).increment(n);
    }
}

/// One webhook delivery.
pub fn webhook_delivery(outcome: Delivery) {
    counter!(WEBHOOK_DELIVERIES, "outcome" => outcome.as_str()).increment(1);
}

/// One refresh for `events` stored events, `unknown` of them of a type the worker does not map.
pub fn webhook_batch(events: usize, unknown: u32) {
    counter!(WEBHOOK_REFRESHES).increment(1);
    let unknown = u64::from(unknown);
    let [known, unknown_kind, _] = labels::EVENT_KINDS;
    counter!(WEBHOOK_EVENTS, "kind" => known).increment((events as u64).saturating_sub(unknown));
    counter!(WEBHOOK_EVENTS, "kind" => unknown_kind).increment(unknown);
}

/// `n` stored events given up (failed `webhooks.max_attempts` times, or unusable).
pub fn webhook_given_up(n: u64) {
    let [.., failed] = labels::EVENT_KINDS;
    counter!(WEBHOOK_EVENTS, "kind" => failed).increment(n);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use metrics_exporter_prometheus::PrometheusBuilder;

    use super::*;

    #[test]
    fn the_budget_wait_is_a_counter_of_whole_seconds_as_its_total_suffix_says() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let waited =
            |ms| CounterSnapshot { budget_wait: Duration::from_millis(ms), ..CounterSnapshot::default() };
        metrics::with_local_recorder(&recorder, || {
            describe();
            api_counters("sync", &waited(2_700));
            api_counters("sync", &waited(3_100));
            api_counters("replay", &waited(400));
        });
        let text = handle.render();
        assert!(text.contains(&format!("# TYPE {API_BUDGET_WAIT} counter")), "{text}");
        assert!(text.contains(&format!("{API_BUDGET_WAIT}{{client=\"sync\"}} 3\n")), "{text}");
        assert!(text.contains(&format!("{API_BUDGET_WAIT}{{client=\"replay\"}} 0\n")), "{text}");
    }

    fn series(text: &str) -> std::collections::BTreeSet<String> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| Some(l.rsplit_once(' ')?.0.into()))
            .collect()
    }

    #[test]
    fn whatever_is_recorded_was_listed_at_zero_from_the_start() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, zero::every_series);
        let at_start = series(&handle.render());
        metrics::with_local_recorder(&recorder, || {
            for client in CLIENTS {
                api_counters(client, &CounterSnapshot::default());
            }
            api_responses([&[(200, 1), (401, 1), (429, 1)][..]]);
            for entry in crate::mirror::streams::ALL {
                for status in crate::mirror::Status::ALL {
                    let tally = crate::mirror::tally::Tally { delete_refused: 3, ..Default::default() };
                    run_finished(&RunSummary {
                        run_id: 1,
                        stream: entry.stream.name(),
                        kind: "full",
                        status,
                        complete: true,
                        resumed_from_page: None,
                        tally,
                        note: None,
                        error: None,
                    });
                }
            }
            drained(&DrainReport::default());
            Delivery::ALL.into_iter().for_each(webhook_delivery);
            webhook_batch(3, 1);
            webhook_given_up(1);
        });
        let text = handle.render();
        assert_eq!(series(&text), at_start, "{text}");
        assert!(text.contains(&format!("{SYNC_DELETES_REFUSED}{{stream=\"bundles\"}} 12\n")), "{text}");
    }

    #[test]
    fn answers_by_status_are_the_sum_of_every_clients_counts() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let sync: &[(u16, u64)] = &[(200, 5), (429, 1)];
        let replay: &[(u16, u64)] = &[(201, 2), (200, 3)];
        metrics::with_local_recorder(&recorder, || {
            api_responses([sync, replay]);
            // Read again at the next scrape: the counts stand, nothing is added twice.
            api_responses([sync, replay]);
        });
        let text = handle.render();
        assert!(text.contains(&format!("{API_RESPONSES}{{status=\"200\"}} 8\n")), "{text}");
        assert!(text.contains(&format!("{API_RESPONSES}{{status=\"201\"}} 2\n")), "{text}");
        assert!(text.contains(&format!("{API_RESPONSES}{{status=\"429\"}} 1\n")), "{text}");
    }
}
