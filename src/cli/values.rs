//! Value parsers of the flags whose values are checked before anything is
//! sent or read: a refused value is a usage error (clap's, exit 2) naming the flag.

/// A whole number of at least 1 (`--limit`, a job id). Negative numbers reach
/// this parser (`allow_negative_numbers`), so `-1` is refused as a value
/// instead of being taken for an unknown flag.
pub fn positive<T: TryFrom<i64>>(s: &str) -> Result<T, String> {
    let n: i64 = s.trim().parse().map_err(|_| format!("expected a whole number of at least 1, got {s:?}"))?;
    if n < 1 {
        return Err(format!("must be at least 1, got {n}"));
    }
    T::try_from(n).map_err(|_| format!("{n} is too large"))
}

/// A key's fingerprint as `worker budget show` prints it: 16 hexadecimal digits.
pub fn fingerprint(s: &str) -> Result<String, String> {
    let f = s.trim().to_ascii_lowercase();
    if f.len() == 16 && f.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(f)
    } else {
        Err(format!(
            "expected 16 hexadecimal digits as `worker budget show` and `worker check-config` print them, got {s:?}"
        ))
    }
}

/// An absolute `http` or `https` URL with a host: where TokPortal can POST deliveries.
pub fn webhook_url(s: &str) -> Result<String, String> {
    match url::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()) => {
            Ok(s.to_string())
        }
        Ok(u) => {
            Err(format!("expected an absolute http or https URL, got the scheme {:?} in {s:?}", u.scheme()))
        }
        Err(e) => Err(format!(
            "expected an absolute http or https URL such as https://example.com/webhooks/tokportal, got {s:?} ({e})"
        )),
    }
}

/// A webhook endpoint's id: one plain path segment ([`crate::api::is_safe_id`]),
/// since it is put into `DELETE /webhooks/{id}`.
pub fn webhook_id(s: &str) -> Result<String, String> {
    if crate::api::is_safe_id(s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "expected an endpoint id as `worker webhooks list` prints it (letters, digits, - _ . ~), got {s:?}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_refuses_zero_negatives_and_words_and_keeps_the_rest() {
        assert_eq!(positive::<i64>("5"), Ok(5));
        assert!(positive::<i64>("0").unwrap_err().contains("at least 1"));
        assert!(positive::<i64>("-1").unwrap_err().contains("at least 1"));
        assert!(positive::<u32>("ten").unwrap_err().contains("whole number"));
        assert!(positive::<u32>("99999999999").unwrap_err().contains("too large"));
    }

    #[test]
    fn a_fingerprint_is_16_hex_digits_and_a_webhook_url_absolute_http() {
        assert_eq!(fingerprint("7267626208CD7215"), Ok("7267626208cd7215".into()));
        assert!(fingerprint("zz").is_err() && fingerprint("7267626208cd721g").is_err());
        assert!(webhook_url("https://example.com/webhooks/tokportal").is_ok());
        assert!(webhook_url("http://127.0.0.1:8080/h").is_ok());
        for bad in ["notaurl", "/webhooks/tokportal", "ftp://example.com/h", "mailto:a@b.c"] {
            assert!(webhook_url(bad).is_err(), "{bad}");
        }
    }
}
