//! Secrets read from the environment: the API key from `TOKPORTAL_API_KEY`
//! or the file `TOKPORTAL_API_KEY_FILE` names (systemd credentials,
//! Kubernetes secrets). They stay `SecretString` from here on.

use std::collections::HashMap;

use secrecy::SecretString;

use super::{ConfigError, Origin};

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
