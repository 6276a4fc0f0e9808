//! Every series the daemon exports, registered at 0 when the recorder is
//! installed: a fresh daemon's `/metrics` already lists them all, so a
//! dashboard draws them and `rate()`, `increase()` and `absent()` in the
//! alert rules work before the first event. The label values come from the
//! lists they are recorded from (`labels`, `streams::ALL`, `Status::ALL`).

use metrics::{counter, gauge};

use super::labels::{CLIENTS, Delivery, EVENT_KINDS, JOB_OUTCOMES, ROW_CHANGES, STATUSES};
use super::*;
use crate::mirror::Status;
use crate::mirror::streams::ALL;

/// Registers every series at 0 (counters stay at what they count, gauges
/// at 0 until first set). The staleness gauges of a stream are set at the
/// first scrape that reads Postgres, and only for the enabled streams.
pub fn every_series() {
    for status in STATUSES {
        counter!(API_RESPONSES, "status" => status.to_string()).absolute(0);
    }
    for client in CLIENTS {
        counter!(API_REQUESTS, "client" => client).absolute(0);
        counter!(API_RATE_LIMITED, "client" => client).absolute(0);
        counter!(API_BUDGET_WAIT, "client" => client).absolute(0);
        gauge!(API_BOOKED_AHEAD, "client" => client).set(0.0);
        gauge!(API_BLOCKED, "client" => client).set(0.0);
    }
    for entry in ALL {
        let stream = entry.stream.name();
        counter!(SYNC_PAGES, "stream" => stream).absolute(0);
        for change in ROW_CHANGES {
            counter!(SYNC_ROWS, "stream" => stream, "change" => change).absolute(0);
        }
        for status in Status::ALL {
            counter!(SYNC_RUNS, "stream" => stream, "status" => status.as_str()).absolute(0);
        }
        counter!(SYNC_DELETES_UNCHECKED, "stream" => stream).absolute(0);
        counter!(SYNC_DELETES_REFUSED, "stream" => stream).absolute(0);
        counter!(SYNC_PROBLEMS, "stream" => stream).absolute(0);
        gauge!(SYNC_PROBLEMS_OPEN, "stream" => stream).set(0.0);
        gauge!(SYNC_LAST_SUCCESS, "stream" => stream).set(0.0);
        let age = if entry.stream.is_walked() { WALK_AGE } else { CHILDREN_AGE };
        gauge!(age, "stream" => stream).set(0.0);
    }
    for outcome in JOB_OUTCOMES {
        counter!(JOBS, "outcome" => outcome).absolute(0);
    }
    gauge!(QUEUE_DEPTH).set(0.0);
    gauge!(QUEUE_OLDEST_AGE).set(0.0);
    gauge!(QUEUE_OLDEST_DUE).set(0.0);
    for outcome in Delivery::ALL {
        counter!(WEBHOOK_DELIVERIES, "outcome" => outcome.as_str()).absolute(0);
    }
    for kind in EVENT_KINDS {
        counter!(WEBHOOK_EVENTS, "kind" => kind).absolute(0);
    }
    counter!(WEBHOOK_REFRESHES).absolute(0);
    gauge!(POSTGRES_UP).set(0.0);
}
