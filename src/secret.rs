//! The only ways a secret may be shown: a fingerprint of a key, a database
//! URL with its password masked; and how an API item loses its secrets
//! before it is stored ([`strip_secret_keys`]). Imports nothing from the crate, so every
//! module (the simulator included) may use it.

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A stable, non-reversible name for an API key: the first 16 hex digits of its
/// SHA-256. Used in `check-config` and as the key of the shared budget row.
pub fn fingerprint(key: &SecretString) -> String {
    let digest = Sha256::digest(key.expose_secret().as_bytes());
    hex::encode(&digest[..8])
}

/// The database URL with any password replaced by `***`, fit for logs and output.
pub fn redact_database_url(url: &SecretString) -> String {
    match url::Url::parse(url.expose_secret()) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            let pairs: Vec<(String, String)> = parsed
                .query_pairs()
                .map(|(k, v)| {
                    let masked = k.eq_ignore_ascii_case("password");
                    (k.into_owned(), if masked { "***".to_string() } else { v.into_owned() })
                })
                .collect();
            if !pairs.is_empty() {
                parsed.query_pairs_mut().clear().extend_pairs(pairs);
            }
            parsed.to_string()
        }
        // Not a URL (a key=value connection string?): show nothing of it.
        Err(_) => "set (not a URL; hidden)".into(),
    }
}

/// Whether an object key names a secret: `secret`, or `…_secret` (any case).
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key == "secret" || key.ends_with("_secret")
}

/// Removes, at any depth, every object key that names a secret
/// ([`is_secret_key`]). Returns whether anything was removed.
pub fn strip_secret_keys(value: &mut Value) -> bool {
    match value {
        Value::Object(map) => {
            let before = map.len();
            map.retain(|key, _| !is_secret_key(key));
            let mut removed = map.len() != before;
            for v in map.values_mut() {
                removed |= strip_secret_keys(v);
            }
            removed
        }
        Value::Array(items) => items.iter_mut().fold(false, |removed, v| strip_secret_keys(v) | removed),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::strip_secret_keys;

    #[test]
    fn every_secret_key_is_stripped_at_any_depth_and_nothing_else() {
        let mut item = json!({
            "id": "w1",
            "secret": "whsec_1",
            "signing_secret": "s",
            "Client_Secret": "c",
            "secretive": "kept",
            "secrets_count": 2,
            "nested": {"hmac_secret": "h", "keep": 1, "list": [{"secret": "x", "url": "u"}]},
        });
        assert!(strip_secret_keys(&mut item));
        assert_eq!(
            item,
            json!({
                "id": "w1",
                "secretive": "kept",
                "secrets_count": 2,
                "nested": {"keep": 1, "list": [{"url": "u"}]},
            })
        );
        assert!(!strip_secret_keys(&mut item), "nothing left to strip");
    }
}
