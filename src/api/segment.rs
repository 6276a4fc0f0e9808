//! The one check for every URL built from data the API returned (a bundle
//! id of a list item, of a missing row, of a webhook event): [`is_safe_id`].

/// Whether an id read from the API (or an event) is one safe path segment:
/// letters, digits, `-`, `_`, `.`, `~`, not only dots, at most 255 bytes.
/// The id is put into `GET /bundles/{id}` and its children's paths, and a URL
/// parser resolves `..` (also written `%2e%2e`) and `/`, so
/// `../credits/balance` would read another endpoint with the key (as
/// `jobs::validate::check_path` guards enqueued paths), and `a?b` would send
/// a query. An unsafe id is never requested.
pub fn is_safe_id(id: &str) -> bool {
    (1..=255).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
        && id.bytes().any(|b| b != b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_single_plain_segment_is_a_safe_bundle_id() {
        for good in ["3f2b8c1e-9a4d-4c7e-8f00-123456789abc", "bnd_abc123", "a.b", "x~1"] {
            assert!(is_safe_id(good), "{good}");
        }
        let long = "a".repeat(256);
        for bad in
            ["", ".", "..", "../credits/balance", "a/b", "%2e%2e", "a?b", "a#b", "a b", "é", long.as_str()]
        {
            assert!(!is_safe_id(bad), "{bad}");
        }
    }
}
