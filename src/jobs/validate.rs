//! What may be queued and sent: checked by `worker enqueue` before the
//! insert, so a mistake gets a sentence rather than a constraint name, and
//! again by the replayer before every send ([`check_sendable`]), because a
//! plain INSERT (or a row older than the table's CHECKs) never met these
//! rules. The table's own CHECKs stay the last word for plain INSERTs.

use crate::api::{IdempotencyKey, MutationMethod};

use super::queue::NewJob;

/// The statuses a job can have (the table's CHECK): what `jobs list --status` accepts.
pub const STATUSES: &[&str] = &["queued", "running", "succeeded", "failed", "expired", "cancelled"];

/// The six operations the API refuses an `Idempotency-Key` on (their answers
/// carry secrets): they could never be retried safely. Patterns as in
/// [`BODY_REQUIRED`].
const SENSITIVE: &[(MutationMethod, &str)] = &[
    (MutationMethod::Post, "accounts/*/verification-code"),
    (MutationMethod::Post, "accounts/*/reveal-credentials"),
    (MutationMethod::Post, "webhooks"),
    (MutationMethod::Post, "upload/video"),
    (MutationMethod::Post, "upload/image"),
    (MutationMethod::Post, "analytics/export/reports"),
];

/// The mutations whose JSON body the reference (`operations.md`) marks
/// required: sent without one, the API refuses them for certain. A pattern is
/// the path under the base, `*` standing for one segment (an id, a position,
/// `batch`).
const BODY_REQUIRED: &[(MutationMethod, &str)] = &[
    (MutationMethod::Patch, "me"),
    (MutationMethod::Post, "accounts/*/managed-subscription/reactivate"),
    (MutationMethod::Post, "bundles"),
    (MutationMethod::Post, "bundles/bulk"),
    (MutationMethod::Patch, "bundles/*"),
    (MutationMethod::Post, "bundles/*/add-video-slots"),
    (MutationMethod::Post, "bundles/*/add-edit-slots"),
    (MutationMethod::Put, "bundles/*/account"),
    (MutationMethod::Post, "bundles/*/account/corrections"),
    (MutationMethod::Put, "bundles/*/videos/*"),
    (MutationMethod::Patch, "bundles/*/videos/*"),
    (MutationMethod::Post, "bundles/*/videos/*/corrections"),
    (MutationMethod::Post, "bundles/*/videos/*/fix-download"),
    (MutationMethod::Put, "bundles/*/warming-terms"),
    (MutationMethod::Patch, "accounts/*/commenting-profile"),
    (MutationMethod::Post, "accounts/*/analytics/refresh"),
    (MutationMethod::Post, "accounts/*/edit-request"),
    (MutationMethod::Post, "accounts/*/rewarm"),
    (MutationMethod::Post, "warming/generate-terms"),
    (MutationMethod::Patch, "webhooks/*"),
    (MutationMethod::Post, "upload/image/from-url"),
    (MutationMethod::Post, "analytics/export/reports/html"),
    (MutationMethod::Post, "analytics/accounts/*/refresh"),
    (MutationMethod::Post, "videos/*/ad-code-request"),
    (MutationMethod::Post, "comments"),
    (MutationMethod::Post, "comments/*/dispute"),
];

/// The path as a server routes it: before the query, its non-empty segments
/// (`//` and a trailing `/` collapse), percent-decoded, lower case. The
/// operation checks run on this, so `/Webhooks/`, `/upload//video` or
/// `/%77ebhooks` are recognised as what they would reach.
fn route(path: &str) -> Vec<String> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    path.split('/').filter(|s| !s.is_empty()).map(|s| percent_decode(s).to_ascii_lowercase()).collect()
}

/// `%XX` decoded (other bytes kept as they are).
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn matches_any(table: &[(MutationMethod, &str)], method: MutationMethod, path: &str) -> bool {
    let route = route(path);
    table.iter().any(|(m, pattern)| {
        let pattern: Vec<&str> = pattern.split('/').collect();
        *m == method
            && pattern.len() == route.len()
            && pattern.iter().zip(&route).all(|(p, s)| *p == "*" || *p == s.as_str())
    })
}

/// Whether this is one of the six operations that refuse an `Idempotency-Key`,
/// judged on the path as a server routes it.
pub fn is_sensitive(method: MutationMethod, path: &str) -> bool {
    matches_any(SENSITIVE, method, path)
}

/// Whether the reference marks this operation's JSON body required.
pub fn requires_body(method: MutationMethod, path: &str) -> bool {
    matches_any(BODY_REQUIRED, method, path)
}

/// What the replayer checks again before every send (a row may have been
/// inserted before the table's checks, or around them): the path stays inside
/// `api.base_url` ([`check_path`]), carries no fragment, and is not an
/// operation that refuses idempotency keys.
pub fn check_sendable(method: MutationMethod, path: &str) -> anyhow::Result<()> {
    check_path(path)?;
    anyhow::ensure!(!path.contains('#'), "the path must not carry a fragment: {path:?}");
    anyhow::ensure!(
        !is_sensitive(method, path),
        "{} {path} cannot be queued: the API refuses an Idempotency-Key on it (its answer carries secrets), \
         so it could never be retried safely; send it directly instead",
        method.as_str()
    );
    Ok(())
}

/// What is wrong with an idempotency key, in words: the character and where
/// it is, or the length.
pub fn key_problem(key: &str) -> Option<String> {
    if key.is_empty() {
        return Some("is empty".into());
    }
    if let Some((at, c)) = key.chars().enumerate().find(|(_, c)| !c.is_ascii_graphic()) {
        let what = match c {
            ' ' => "a space".to_string(),
            c if c.is_ascii_control() => format!("a control character ({c:?})"),
            c => format!("the non-ASCII character {c:?}"),
        };
        return Some(format!(
            "contains {what} at character {}: only visible ASCII is allowed, without spaces",
            at + 1
        ));
    }
    (key.len() > 255).then(|| format!("is {} characters long: at most 255 are allowed", key.len()))
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

/// The price a dry run answered (`data.credits_required`), when it said one.
pub fn dry_run_price(body: &serde_json::Value) -> Option<f64> {
    body["data"]["credits_required"].as_f64()
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
    check_sendable(parsed, path)?;
    anyhow::ensure!(
        body.is_some() || !requires_body(parsed, path),
        "{} {path} needs a JSON body (--body or --body-file): the API requires one for this operation",
        parsed.as_str()
    );
    if let Some(body) = &body {
        serde_json::from_str::<serde_json::Value>(body)
            .map_err(|e| anyhow::anyhow!("the body is not valid JSON: {e}"))?;
    }
    if let Some(key) = &idempotency_key {
        if let Some(problem) = key_problem(key) {
            anyhow::bail!("--idempotency-key {problem}");
        }
        IdempotencyKey::new(key.as_str()).map_err(|e| anyhow::anyhow!("--idempotency-key: {e}"))?;
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
        assert!(err("POST", "/bundles", Some("{}"), Some(&"k".repeat(256))).contains("256 characters"));
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

    #[test]
    fn the_sensitive_operations_are_recognised_on_the_path_a_server_routes() {
        for path in
            ["/webhooks", "/webhooks/", "/Webhooks", "/%77ebhooks", "/upload//video", "/upload/image?x=1"]
        {
            assert!(is_sensitive(MutationMethod::Post, path), "{path}");
        }
        assert!(!is_sensitive(MutationMethod::Post, "/webhooks/w1/test"));
        assert!(!is_sensitive(MutationMethod::Patch, "/webhooks"));
        assert!(err("POST", "/upload//video", Some("{}"), None).contains("secrets"));
    }

    #[test]
    fn a_path_with_a_tab_or_a_newline_is_refused_before_the_url_parser_strips_them() {
        for path in ["/.\t./.\t./x", "/bundles\n", "/bun dles", "/bundl\u{e9}s"] {
            assert!(check_sendable(MutationMethod::Post, path).is_err(), "{path:?}");
        }
    }

    #[test]
    fn an_operation_whose_body_the_reference_requires_is_refused_without_one() {
        let said = err("POST", "/bundles", None, None);
        assert!(said.contains("needs a JSON body"), "{said}");
        for (method, path) in [
            ("PATCH", "/bundles/b1"),
            ("POST", "/bundles/b1/add-video-slots"),
            ("PUT", "/bundles/b1/videos/2"),
        ] {
            assert!(err(method, path, None, None).contains("needs a JSON body"), "{method} {path}");
        }
        for (method, path) in
            [("POST", "/bundles/b1/publish"), ("DELETE", "/comments/c1"), ("POST", "/bundles/b1/unpublish")]
        {
            assert!(new_job(method, path, None, None, None).is_ok(), "{method} {path}");
        }
    }

    #[test]
    fn an_idempotency_key_with_a_space_is_refused_naming_the_space_not_the_length() {
        let said = err("POST", "/bundles", Some("{}"), Some("my key"));
        assert!(said.contains("a space at character 3") && !said.contains("255"), "{said}");
        let said = err("POST", "/bundles", Some("{}"), Some("tab\there"));
        assert!(said.contains("control character"), "{said}");
        assert!(err("POST", "/bundles", Some("{}"), Some("")).contains("empty"));
    }
}
