//! The `TokPortal-Signature` header: `t=<unix>,v1=<hex>[,v1=<hex>…]`, each
//! `v1` an HMAC-SHA256 of `"<t>.<raw body>"`. One match against one of the
//! configured secrets is enough (both sides may be rotating their secret),
//! compared in constant time; `t` must be within the tolerance of now so a
//! captured delivery cannot be replayed later.

use std::time::Duration;

use hmac::{KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Why a delivery was refused (the text is safe to log and answer: it never
/// holds a secret or a signature).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no TokPortal-Signature header")]
    Missing,
    #[error("the TokPortal-Signature header is not t=<unix>,v1=<hex>")]
    Malformed,
    #[error("the signature timestamp is {0} s away from now, more than webhooks.tolerance_secs")]
    Stale(i64),
    #[error("no v1 signature matches a configured secret")]
    NoMatch,
}

/// Checks `header` for `body` against every secret, `now` in Unix seconds.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[SecretString],
    tolerance: Duration,
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let (mut t, mut v1) = (None, Vec::new());
    // Empty parts (a trailing or doubled comma) are ignored, not malformed.
    for part in header.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            // A signature that is not hex cannot match; others may.
            Some(("v1", value)) => v1.extend(hex::decode(value).ok()),
            Some(_) => {} // other schemes, ignored as the SDKs do
            None => return Err(SignatureError::Malformed),
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    let skew = now.saturating_sub(t);
    // Compared as durations: `tolerance` may be fractional (`webhooks.tolerance_secs`).
    if Duration::from_secs(skew.unsigned_abs()) > tolerance {
        return Err(SignatureError::Stale(skew));
    }
    let stamp = t.to_string();
    for secret in secrets {
        let mac = mac(secret, &stamp, body);
        for candidate in &v1 {
            // `verify_slice` compares in constant time; the clone keeps the state for the next value.
            if mac.clone().verify_slice(candidate).is_ok() {
                return Ok(());
            }
        }
    }
    Err(SignatureError::NoMatch)
}

/// The header a sender puts on `body` at `t` (the simulator and tests sign with it).
pub fn sign(secret: &SecretString, t: i64, body: &[u8]) -> String {
    let mac = mac(secret, &t.to_string(), body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn mac(secret: &SecretString, stamp: &str, body: &[u8]) -> HmacSha256 {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(stamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;
    const TOL: Duration = Duration::from_secs(300);

    fn s(v: &str) -> SecretString {
        SecretString::from(v)
    }

    #[test]
    fn a_signature_made_with_the_secret_verifies() {
        let h = sign(&s("whsec_a"), NOW, b"{}");
        assert_eq!(verify(Some(&h), b"{}", &[s("whsec_a")], TOL, NOW), Ok(()));
    }

    #[test]
    fn a_changed_body_or_another_secret_does_not_verify() {
        let h = sign(&s("whsec_a"), NOW, b"{}");
        assert_eq!(verify(Some(&h), b"{ }", &[s("whsec_a")], TOL, NOW), Err(SignatureError::NoMatch));
        assert_eq!(verify(Some(&h), b"{}", &[s("whsec_b")], TOL, NOW), Err(SignatureError::NoMatch));
    }

    #[test]
    fn one_matching_value_among_several_is_enough() {
        let good = sign(&s("whsec_new"), NOW, b"x");
        let v1 = good.split_once(",v1=").unwrap().1;
        let h = format!("t={NOW},v1={},v1=zz,v1={v1}", "00".repeat(32));
        assert_eq!(verify(Some(&h), b"x", &[s("whsec_new")], TOL, NOW), Ok(()));
    }

    #[test]
    fn either_of_two_configured_secrets_verifies() {
        let secrets = [s("whsec_old"), s("whsec_new")];
        for secret in &secrets {
            let h = sign(secret, NOW, b"x");
            assert_eq!(verify(Some(&h), b"x", &secrets, TOL, NOW), Ok(()));
        }
    }

    #[test]
    fn a_timestamp_outside_the_tolerance_is_stale_either_way() {
        let secrets = [s("k")];
        let old = sign(&secrets[0], NOW - 301, b"x");
        assert_eq!(verify(Some(&old), b"x", &secrets, TOL, NOW), Err(SignatureError::Stale(301)));
        let future = sign(&secrets[0], NOW + 301, b"x");
        assert_eq!(verify(Some(&future), b"x", &secrets, TOL, NOW), Err(SignatureError::Stale(-301)));
        let edge = sign(&secrets[0], NOW - 300, b"x");
        assert_eq!(verify(Some(&edge), b"x", &secrets, TOL, NOW), Ok(()));
    }

    #[test]
    fn a_trailing_or_doubled_comma_is_not_malformed() {
        let h = sign(&s("k"), NOW, b"x");
        for header in [format!("{h},"), format!("{h}, "), h.replacen(',', ",,", 1)] {
            assert_eq!(verify(Some(&header), b"x", &[s("k")], TOL, NOW), Ok(()), "{header}");
        }
    }

    #[test]
    fn a_fractional_tolerance_admits_the_whole_seconds_within_it() {
        let secrets = [s("k")];
        let tol = Duration::from_secs_f64(1.5);
        let one = sign(&secrets[0], NOW - 1, b"x");
        assert_eq!(verify(Some(&one), b"x", &secrets, tol, NOW), Ok(()));
        let two = sign(&secrets[0], NOW - 2, b"x");
        assert_eq!(verify(Some(&two), b"x", &secrets, tol, NOW), Err(SignatureError::Stale(2)));
    }

    #[test]
    fn missing_and_malformed_headers_are_refused() {
        let secrets = [s("k")];
        assert_eq!(verify(None, b"x", &secrets, TOL, NOW), Err(SignatureError::Missing));
        for h in ["", "v1=00", "t=abc,v1=00", "garbage"] {
            assert_eq!(verify(Some(h), b"x", &secrets, TOL, NOW), Err(SignatureError::Malformed), "{h}");
        }
        assert_eq!(verify(Some(&format!("t={NOW}")), b"x", &secrets, TOL, NOW), Err(SignatureError::NoMatch));
    }
}
