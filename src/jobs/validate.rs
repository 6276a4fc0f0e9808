//! What `worker enqueue` accepts, checked before the insert so a mistake gets
//! a sentence rather than a constraint name. The table's own CHECKs stay the
//! last word for plain INSERTs.

use crate::api::{IdempotencyKey, MutationMethod};

use super::queue::NewJob;

/// The six operations the API refuses an `Idempotency-Key` on (their answers
/// carry secrets): they could never be retried safely.
pub fn is_sensitive(method: MutationMethod, path: &str) -> bool {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    method == MutationMethod::Post
        && matches!(
            segments.as_slice(),
            ["accounts", _, "verification-code"]
                | ["accounts", _, "reveal-credentials"]
                | ["webhooks"]
                | ["upload", "video"]
                | ["upload", "image"]
                | ["analytics", "export", "reports"]
        )
}

/// A path that stays inside `api.base_url` once joined to it: it starts with
/// one `/`, is not a URL, and has no `.` or `..` segment (URL parsers resolve
/// those, also written `%2e`, and a backslash counts as `/`, so
/// `/../../__sim/stats` would leave `/api/ext`). `worker get` checks the same.
pub fn check_path(path: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        path.starts_with('/'),
        "the path must start with / and be relative to api.base_url, got {path:?}"
    );
    anyhow::ensure!(
        !path.starts_with("//") && !path.contains("://"),
        "the path must be relative to api.base_url (such as /bundles), not a URL: {path:?}"
    );
    anyhow::ensure!(
        path.bytes().all(|b| b.is_ascii_graphic()),
        "the path must be visible ASCII without spaces (percent-encode the rest): {path:?}"
    );
    anyhow::ensure!(!path.contains('\\'), "the path must not contain a backslash: {path:?}");
    let before_query = path.split(['?', '#']).next().unwrap_or_default();
    let dots = before_query.split('/').any(|segment| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    });
    anyhow::ensure!(
        !dots,
        "the path must not contain `.` or `..` segments: it must stay inside api.base_url, got {path:?}"
    );
    Ok(())
}

/// Whether `--price` may ask for this operation's price with a dry run
/// (see `api::mutation::is_priced_creation`).
pub fn is_creation(method: MutationMethod, path: &str) -> bool {
    crate::api::mutation::is_priced_creation(method, path)
}

/// Checks what a person typed and builds the job to insert.
pub fn new_job(
    method: &str,
    path: &str,
    body: Option<String>,
    idempotency_key: Option<String>,
    ordering_key: Option<String>,
) -> anyhow::Result<NewJob> {
    let parsed: MutationMethod = match method.to_ascii_uppercase().as_str() {
        "GET" | "HEAD" => anyhow::bail!("{method} is not a mutation: use `worker get` to read"),
        upper => upper.parse()?,
    };
    check_path(path)?;
    anyhow::ensure!(!path.contains('#'), "the path must not carry a fragment: {path:?}");
    anyhow::ensure!(
        !is_sensitive(parsed, path),
        "{} {path} cannot be queued: the API refuses an Idempotency-Key on it (its answer carries secrets), \
         so it could never be retried safely; send it directly instead",
        parsed.as_str()
    );
    if let Some(body) = &body {
        serde_json::from_str::<serde_json::Value>(body)
            .map_err(|e| anyhow::anyhow!("the body is not valid JSON: {e}"))?;
    }
    if let Some(key) = &idempotency_key {
        IdempotencyKey::new(key.as_str())
            .map_err(|e| anyhow::anyhow!("--idempotency-key: {e} (got {} characters)", key.len()))?;
    }
    if let Some(key) = &ordering_key {
        anyhow::ensure!((1..=255).contains(&key.len()), "--ordering-key must be 1 to 255 characters");
    }
    Ok(NewJob {
        method: parsed.as_str().to_string(),
        path: path.to_string(),
        body,
        idempotency_key,
        ordering_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(method: &str, path: &str, body: Option<&str>, key: Option<&str>) -> String {
        let e = new_job(method, path, body.map(str::to_string), key.map(str::to_string), None).unwrap_err();
        e.to_string()
    }

    #[test]
    fn bad_input_is_refused_with_a_sentence_naming_the_problem() {
        assert!(err("GET", "/bundles", None, None).contains("worker get"));
        assert!(err("FETCH", "/bundles", None, None).contains("not a mutation method"));
        assert!(err("POST", "bundles", None, None).contains("start with /"));
        assert!(err("POST", "https://x/bundles", None, None).contains("start with /"));
        assert!(err("POST", "/bundles", Some("{oops"), None).contains("not valid JSON"));
        assert!(err("POST", "/bundles", None, Some(&"k".repeat(256))).contains("256 characters"));
        assert!(err("POST", "/accounts/a1/reveal-credentials", None, None).contains("secrets"));
        assert!(err("post", "/webhooks?x=1", None, None).contains("secrets"));
    }

    #[test]
    fn paths_that_would_leave_the_base_url_are_refused() {
        for path in [
            "/../__sim/stats",
            "/bundles/../../x",
            "/./bundles",
            "/%2e%2E/x",
            "/.%2e/x",
            "/a\\..\\b",
            "//evil/x",
        ] {
            assert!(check_path(path).is_err(), "{path}");
        }
        for path in
            ["/bundles", "/bundles/b1/videos/2", "/bundles?q=../x", "/bundles/a.b", "/credits/history"]
        {
            assert!(check_path(path).is_ok(), "{path}");
        }
        assert!(err("POST", "/bundles/../webhooks", None, None).contains("`..`"));
    }

    #[test]
    fn a_good_job_keeps_its_body_text_exactly() {
        let body = r#"{ "bundle_type":"account_only",  "platform":"tiktok" }"#;
        let job = new_job("patch", "/bundles/b1", Some(body.into()), Some("k-1".into()), None).unwrap();
        assert_eq!((job.method.as_str(), job.body.as_deref()), ("PATCH", Some(body)));
        assert!(new_job("DELETE", "/webhooks/w1", None, None, None).is_ok());
    }
}
