//! Whether a person may send a finished job again (`worker jobs retry`), and
//! what they should know: the rule that decides whether a new idempotency
//! key can charge twice lives here, not in the command that asks it.

use super::queue::Job;

/// Whether retrying `job` this way is allowed (`Ok`: what a person should
/// know) or refused (`Err`: why, and what would make it allowed).
///
/// With `--new-key` it always says whether a new key is safe for this job:
/// safe when the API answered with an error (a 4xx: nothing executed under the
/// old key), unsafe for an expired job (its outcome is unknown and the API may
/// have forgotten its key, so a new key can execute and charge a second time),
/// which therefore needs `--yes`.
pub fn retry_check(job: &Job, new_key: bool, yes: bool) -> Result<String, String> {
    let id = job.id;
    match job.status.as_str() {
        "expired" if !yes => Err(if new_key {
            format!(
                "job {id} expired: a new key is NOT safe for it: its outcome is unknown and the API may have \
                 executed it under the old key, so sending it under a new key may execute it a second time and \
                 charge twice. Check whether it ran, then repeat with --yes"
            )
        } else {
            format!(
                "job {id} expired: its outcome is unknown and the API may have forgotten its key, so sending it \
                 again (with the same key or a new one) may execute it a second time and charge twice. Check \
                 whether it ran, then repeat with --yes"
            )
        }),
        "expired" if new_key => {
            Ok("not safe, confirmed with --yes: the job expired with its outcome unknown, so \
             under a new key it may execute a second time and charge twice"
                .into())
        }
        "expired" => {
            Ok("confirmed with --yes: the API may have forgotten the key, so it may execute a second time"
                .into())
        }
        "failed" => {
            let executed = job.response_status.is_some_and(|s| (200..300).contains(&s));
            if executed && !yes {
                return Err(format!(
                    "job {id} got a {} answer (it ran) whose body could not be read: retrying{} may execute it \
                     again and charge twice; repeat with --yes if that is what you want",
                    job.response_status.unwrap_or_default(),
                    if new_key { " under a new key is NOT safe: it" } else { "" }
                ));
            }
            let answered = job
                .response_status
                .map(|s| {
                    format!("the API answered {s} {}", job.error_code.as_deref().unwrap_or(""))
                        .trim_end()
                        .to_string()
                })
                .unwrap_or_else(|| "it was never executed".into());
            Ok(match (new_key, executed) {
                (true, true) => format!(
                    "not safe, confirmed with --yes: {answered} (it ran), so under a new key it executes again"
                ),
                (true, false) => format!(
                    "a new key is safe for this job: {answered}, so nothing ran under the old key and a new key \
                     cannot charge twice"
                ),
                (false, _) => format!(
                    "same key: the API keeps the answer to a key for 24 h, errors included, so within 24 h of the \
                     first send it replays that answer ({answered}); use --new-key to have it executed again"
                ),
            })
        }
        other => Err(format!("job {id} is {other}: only failed or expired jobs can be retried")),
    }
}
