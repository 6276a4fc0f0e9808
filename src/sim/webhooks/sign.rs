//! The `TokPortal-Signature` header the simulator puts on a delivery, as the
//! reference describes it: `t=<unix seconds>,v1=<hex>`, the HMAC-SHA256 of
//! `"<t>.<raw body>"` keyed with the endpoint's secret (all of `whsec_…`).
//! Written from the reference, not shared with the worker's verifier, so a
//! misreading on either side shows up in the tests.

use hmac::{KeyInit, Mac};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// A secret no endpoint has: what `webhook_bad_signature_next` signs with.
pub const WRONG_SECRET: &str = "whsec_00000000000000000000000000000000";

pub fn header(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac =
        <HmacSha256 as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expected value was computed apart, with Python's `hmac` module.
    #[test]
    fn the_mac_is_hmac_sha256_of_t_dot_body_keyed_with_the_whole_secret() {
        let expected = "38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789";
        assert_eq!(header("whsec_test", 1_700_000_000, br#"{"a":1}"#), format!("t=1700000000,v1={expected}"));
    }
}
