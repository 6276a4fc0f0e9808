//! The only ways a secret may be shown: a fingerprint of a key, a database
//! URL with its password masked. Imports nothing from the crate, so every
//! module (the simulator included) may use it.

use secrecy::{ExposeSecret, SecretString};
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
