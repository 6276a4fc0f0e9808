//! Secrets read from the environment: the API key from `TOKPORTAL_API_KEY`
//! or the file `TOKPORTAL_API_KEY_FILE` names (systemd credentials,
//! Kubernetes secrets). They stay `SecretString` from here on.

use std::collections::HashMap;

use secrecy::SecretString;

use super::{ConfigError, Origin};

/// `TOKPORTAL_API_KEY`, or the trimmed content of the file `TOKPORTAL_API_KEY_FILE`
/// names (for systemd credentials and Kubernetes secrets). Setting both is an error.
pub fn api_key_from_env(env: &HashMap<String, String>) -> Result<Option<SecretString>, ConfigError> {
    key_from_env(env, "TOKPORTAL_API_KEY")
}

/// `TOKPORTAL_WRITE_API_KEY` or `TOKPORTAL_WRITE_API_KEY_FILE`, read the same
/// way: the key mutations use, when it differs from the (read-scoped) sync key.
pub fn write_api_key_from_env(env: &HashMap<String, String>) -> Result<Option<SecretString>, ConfigError> {
    key_from_env(env, "TOKPORTAL_WRITE_API_KEY")
}

fn key_from_env(env: &HashMap<String, String>, var: &str) -> Result<Option<SecretString>, ConfigError> {
    let file_var = format!("{var}_FILE");
    let direct = env.get(var).filter(|v| !v.is_empty());
    let file = env.get(&file_var).filter(|v| !v.is_empty());
    let invalid = |var: &str, message: String| ConfigError::Invalid {
        key: var.to_string(),
        origin: Origin::Env(var.to_string()),
        message,
    };
    match (direct, file) {
        (Some(_), Some(_)) => Err(invalid(&file_var, format!("set either {var} or {file_var}, not both"))),
        (Some(key), None) => Ok(Some(SecretString::from(key.trim()))),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| invalid(&file_var, format!("cannot read {path}: {e}")))?;
            let key = text.trim();
            if key.is_empty() {
                return Err(invalid(&file_var, format!("{path} is empty")));
            }
            Ok(Some(SecretString::from(key)))
        }
        (None, None) => Ok(None),
    }
}
