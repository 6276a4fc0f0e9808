//! Secrets: where the API key comes from, and the only ways a secret may be
//! shown (a fingerprint of the key, a database URL with its password masked).

use std::collections::HashMap;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::config::{ConfigError, Origin};

/// A stable, non-reversible name for an API key: the first 16 hex digits of its
/// SHA-256. Used in `check-config` and as the key of the shared budget row.
pub fn fingerprint(key: &SecretString) -> String {
    let digest = Sha256::digest(key.expose_secret().as_bytes());
    hex::encode(&digest[..8])
}

/// `TOKPORTAL_API_KEY`, or the trimmed content of the file `TOKPORTAL_API_KEY_FILE`
/// names (for systemd credentials and Kubernetes secrets). Setting both is an error.
pub fn api_key_from_env(env: &HashMap<String, String>) -> Result<Option<SecretString>, ConfigError> {
    let direct = env.get("TOKPORTAL_API_KEY").filter(|v| !v.is_empty());
    let file = env.get("TOKPORTAL_API_KEY_FILE").filter(|v| !v.is_empty());
    let invalid = |var: &str, message: String| ConfigError::Invalid {
        key: var.to_string(),
        origin: Origin::Env(var.to_string()),
        message,
    };
    match (direct, file) {
        (Some(_), Some(_)) => Err(invalid(
            "TOKPORTAL_API_KEY_FILE",
            "set either TOKPORTAL_API_KEY or TOKPORTAL_API_KEY_FILE, not both".into(),
        )),
        (Some(key), None) => Ok(Some(SecretString::from(key.trim()))),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| invalid("TOKPORTAL_API_KEY_FILE", format!("cannot read {path}: {e}")))?;
            let key = text.trim();
            if key.is_empty() {
                return Err(invalid("TOKPORTAL_API_KEY_FILE", format!("{path} is empty")));
            }
            Ok(Some(SecretString::from(key)))
        }
        (None, None) => Ok(None),
    }
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
