//! Whether a person may send a finished job again (`worker jobs retry`), and
//! what they should know: the rule that decides whether a new idempotency
//! key can charge twice lives here, not in the command that asks it.
//!
//! A new key is safe only when every send of the job (under any key it ever
//! had) got an answer proving the mutation did not execute: a 4xx other than
//! `IDEMPOTENCY_KEY_REUSED` and `IDEMPOTENCY_KEY_IN_PROGRESS`, a refused key,
//! or no send at all. A 2xx ran; REUSED means a request ran under the key;
//! IN_PROGRESS means one was running; a lost answer, a timeout, a 408 or a
//! 5xx may come after the execution. Any of those needs `--yes`.
//!
//! A job that got `BUNDLE_PRICING_CHANGED` is never sent again under that
//! key, and under a new one only once a person accepted the new price.

use super::queue::{Attempt, Job};

/// The error code that asks for a new key at a new price.
pub const PRICING_CHANGED: &str = "BUNDLE_PRICING_CHANGED";

/// What a person asked for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ask {
    pub new_key: bool,
    pub yes: bool,
    /// `--accept-price N`: queue it only if the API's price is N credits.
    pub accept_price: Option<f64>,
}

/// What to do once the retry is allowed; the text is what a person should know.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    Requeue(String),
    /// Ask the API for the new price (a dry run), print it, then let
    /// [`accept_price`] decide.
    AskPrice(String),
}

/// What one send proves about whether the mutation executed.
#[derive(Debug, Clone, PartialEq)]
enum Ran {
    No,
    /// It ran, or may have: why, in words.
    Maybe(String),
}

fn judge(a: &Attempt) -> Ran {
    let code = a.error_code.as_deref().unwrap_or("");
    let answered =
        |what: &str| format!("the API answered {} {code}: {what}", a.http_status.unwrap_or_default());
    match (a.outcome.as_deref(), a.http_status) {
        (None, _) => {
            Ran::Maybe("no answer was recorded (the worker stopped during the send): it may have run".into())
        }
        (Some("not_sent" | "key_refused"), _) => Ran::No,
        (_, _) if code == "IDEMPOTENCY_KEY_REUSED" => {
            Ran::Maybe(answered("a request already ran under that key, and may be this one"))
        }
        (_, _) if code == "IDEMPOTENCY_KEY_IN_PROGRESS" => {
            Ran::Maybe(answered("a request under that key was still running"))
        }
        (_, Some(s)) if (200..300).contains(&s) => Ran::Maybe(answered("it ran")),
        (_, Some(s)) if s == 408 || s >= 500 => Ran::Maybe(answered("that can come after it ran")),
        (_, Some(s)) if (400..500).contains(&s) => Ran::No,
        (Some("retry"), None) => {
            Ran::Maybe("no answer (a timeout or a lost connection): it may have run".into())
        }
        (_, None) => Ran::No,
        (_, Some(_)) => Ran::Maybe(answered("not an answer that proves it did not run")),
    }
}

/// The sends that leave it unknown whether the mutation executed, in words.
fn unproven(attempts: &[Attempt]) -> Vec<String> {
    attempts
        .iter()
        .filter_map(|a| match judge(a) {
            Ran::No => None,
            Ran::Maybe(why) => Some(format!("attempt {}: {why}", a.attempt)),
        })
        .collect()
}

/// Whether the job's current key got `BUNDLE_PRICING_CHANGED`.
pub fn pricing_changed(job: &Job, attempts: &[Attempt]) -> bool {
    job.error_code.as_deref() == Some(PRICING_CHANGED)
        || attempts.iter().any(|a| {
            a.error_code.as_deref() == Some(PRICING_CHANGED)
                && a.idempotency_key.as_deref().is_none_or(|k| k == job.idempotency_key)
        })
}

/// Whether retrying `job` this way is allowed (`Ok`: what to do and what a
/// person should know) or refused (`Err`: why, and what would make it allowed).
pub fn retry_check(job: &Job, attempts: &[Attempt], ask: &Ask) -> Result<Plan, String> {
    let id = job.id;
    if !matches!(job.status.as_str(), "failed" | "expired") {
        return Err(format!("job {id} is {}: only failed or expired jobs can be retried", job.status));
    }
    let priced = pricing_changed(job, attempts);
    if ask.accept_price.is_some() && !priced {
        return Err(format!(
            "job {id} did not get {PRICING_CHANGED}: --accept-price is only for a job whose price changed"
        ));
    }
    if priced && !ask.new_key {
        return Err(format!(
            "job {id} got {PRICING_CHANGED}: it is never sent again under its key (the API asks for a new \
             one at the new price). Repeat with --new-key: it first asks the API for the new price"
        ));
    }
    // Under the same key the API replays what it stored while it remembers
    // the key; only a send that ran is a risk there (its answer replays, or
    // after 24 h it executes again).
    let mut unknown = if ask.new_key {
        unproven(attempts)
    } else {
        let ran = attempts.iter().filter(|a| a.http_status.is_some_and(|s| (200..300).contains(&s)));
        ran.map(|a| {
            format!("attempt {} got a {} answer (it ran)", a.attempt, a.http_status.unwrap_or_default())
        })
        .collect()
    };
    if job.status == "expired" {
        unknown.insert(
            0,
            "the job expired with its outcome unknown, and the API may have forgotten its key".into(),
        );
    }
    let unknown = unknown.join("; ");
    if !unknown.is_empty() && !ask.yes {
        return Err(if ask.new_key {
            format!(
                "job {id}: a new key is NOT safe for it: {unknown}. Under a new key it may execute a second \
                 time and charge twice. Check whether it ran, then repeat with --yes"
            )
        } else {
            format!(
                "job {id}: {unknown}. Sending it again may execute it a second time and charge twice (the API \
                 replays a key's answer only while it remembers the key). Check whether it ran, then repeat with --yes"
            )
        });
    }
    let note = match (ask.new_key, unknown.is_empty()) {
        (true, false) => {
            format!("not safe, confirmed with --yes: {unknown}; under a new key it may execute again")
        }
        (true, true) => format!(
            "a new key is safe for this job: every send got an answer proving nothing executed ({}), so a \
             new key cannot charge twice",
            answers(attempts)
        ),
        (false, false) => format!("confirmed with --yes: {unknown}"),
        (false, true) => format!(
            "same key: the API keeps the answer to a key for 24 h, errors included, so within 24 h of the \
             first send it replays that answer ({}); use --new-key to have it executed again",
            answers(attempts)
        ),
    };
    Ok(if priced { Plan::AskPrice(note) } else { Plan::Requeue(note) })
}

/// What the API answered, send by send, for the note.
fn answers(attempts: &[Attempt]) -> String {
    let said: Vec<String> = attempts
        .iter()
        .map(|a| match a.http_status {
            Some(s) => format!("{s} {}", a.error_code.as_deref().unwrap_or("")).trim_end().to_string(),
            None => "not sent".into(),
        })
        .collect();
    if said.is_empty() { "it was never sent".into() } else { format!("the API answered {}", said.join(", ")) }
}

/// Whether the price the API asks now (`None`: it could not be asked) is
/// accepted: `--accept-price` matching it, or `--yes`.
pub fn accept_price(job: &Job, price: Option<f64>, ask: &Ask) -> Result<String, String> {
    let id = job.id;
    match (price, ask.accept_price) {
        (Some(price), Some(accepted)) if (price - accepted).abs() < 1e-9 => {
            Ok(format!("the new price, {price} credits, accepted with --accept-price"))
        }
        (Some(price), Some(accepted)) => Err(format!(
            "job {id}: the API asks {price} credits now, not the {accepted} accepted: nothing was queued; repeat \
             with --accept-price {price} if it is still wanted"
        )),
        (Some(price), None) if ask.yes => Ok(format!("the new price, {price} credits, accepted with --yes")),
        (Some(price), None) => Err(format!(
            "job {id}: the price changed and is now {price} credits: nothing was queued; repeat with \
             --accept-price {price} (or --yes) to queue it under a new key at that price"
        )),
        (None, _) if ask.yes => Ok("the new price could not be asked (no dry run prices this operation); \
             accepted unseen with --yes"
            .into()),
        (None, _) => Err(format!(
            "job {id}: the price changed, and no dry run prices this operation: nothing was queued; repeat \
             with --yes to queue it under a new key at whatever the API charges now"
        )),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn sent(n: i32, outcome: Option<&str>, status: Option<i32>, code: Option<&str>) -> Attempt {
        Attempt {
            attempt: n,
            idempotency_key: Some("k".into()),
            sent_at: Utc::now(),
            duration_ms: Some(5),
            http_status: status,
            error_code: code.map(str::to_string),
            replayed: None,
            request_id: None,
            outcome: outcome.map(str::to_string),
            error: None,
        }
    }

    #[test]
    fn only_answers_that_prove_nothing_ran_count_as_proof() {
        let proof = [
            sent(1, Some("failed"), Some(402), Some("INSUFFICIENT_CREDITS")),
            sent(1, Some("failed"), Some(409), Some("BUNDLE_INVALID_STATUS")),
            sent(1, Some("failed"), Some(400), Some(PRICING_CHANGED)),
            sent(1, Some("wait"), Some(429), None),
            sent(1, Some("key_refused"), Some(401), Some("AUTH_REVOKED_KEY")),
            sent(1, Some("not_sent"), None, None),
            sent(1, Some("failed"), None, None),
        ];
        for a in &proof {
            assert_eq!(judge(a), Ran::No, "{a:?}");
        }
        let unknown = [
            sent(1, None, None, None),
            sent(1, Some("retry"), None, None),
            sent(1, Some("retry"), Some(503), None),
            sent(1, Some("retry"), Some(408), None),
            sent(1, Some("failed"), Some(201), None),
            sent(1, Some("failed"), Some(409), Some("IDEMPOTENCY_KEY_REUSED")),
            sent(1, Some("wait"), Some(409), Some("IDEMPOTENCY_KEY_IN_PROGRESS")),
        ];
        for a in &unknown {
            assert!(matches!(judge(a), Ran::Maybe(_)), "{a:?}");
        }
    }

    #[test]
    fn a_price_is_accepted_only_when_it_matches_or_with_yes() {
        let job = Job {
            id: 7,
            status: "failed".into(),
            method: "POST".into(),
            path: "/bundles".into(),
            body: Some("{}".into()),
            idempotency_key: "k".into(),
            ordering_key: None,
            attempts: 1,
            claims: 1,
            run_after: Utc::now(),
            locked_until: None,
            first_sent_at: None,
            response_status: Some(409),
            response_body: None,
            replayed: None,
            credits_charged: None,
            error_code: Some(PRICING_CHANGED.into()),
            last_error: None,
            error_details: None,
            created_at: Utc::now(),
            finished_at: None,
        };
        let ask = |accept_price, yes| Ask { new_key: true, yes, accept_price };
        assert!(accept_price(&job, Some(12.0), &ask(Some(12.0), false)).is_ok());
        assert!(accept_price(&job, Some(12.0), &ask(Some(10.0), false)).unwrap_err().contains("not the 10"));
        assert!(accept_price(&job, Some(12.0), &ask(None, false)).unwrap_err().contains("--accept-price 12"));
        assert!(accept_price(&job, Some(12.0), &ask(None, true)).is_ok());
        assert!(accept_price(&job, None, &ask(Some(12.0), false)).is_err(), "no price seen: only --yes");
        let same_key = Ask::default();
        assert!(retry_check(&job, &[], &same_key).unwrap_err().contains("never sent again under its key"));
        assert!(matches!(retry_check(&job, &[], &ask(None, false)), Ok(Plan::AskPrice(_))));
        let unpriced = Job { error_code: Some("INSUFFICIENT_CREDITS".into()), ..job };
        assert!(retry_check(&unpriced, &[], &ask(Some(12.0), false)).unwrap_err().contains("only for a job"));
        assert!(matches!(retry_check(&unpriced, &[], &ask(None, false)), Ok(Plan::Requeue(_))));
    }
}
