//! Layering: built-in defaults, then the TOML file, then `TOKPORTAL__SECTION__KEY`
//! environment variables. Also knows where each value came from, so every error
//! can name the key and its origin.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use super::ConfigError;
use super::settings::Settings;

/// File read when neither `--config` nor `TOKPORTAL_CONFIG` names one.
pub const DEFAULT_CONFIG_FILE: &str = "config.toml";
const ENV_PREFIX: &str = "TOKPORTAL__";

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    File(PathBuf),
    Env(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("built-in default"),
            Origin::File(p) => write!(f, "config file {}", p.display()),
            Origin::Env(var) => write!(f, "environment variable {var}"),
        }
    }
}

/// The raw layers, kept after loading to answer "where did this come from?".
pub struct Layers {
    pub file: Option<PathBuf>,
    file_keys: BTreeSet<String>,
    env_keys: HashMap<String, String>,
}

impl Layers {
    pub fn origin(&self, key: &str) -> Origin {
        if let Some(var) = self.env_keys.get(key) {
            return Origin::Env(var.clone());
        }
        match &self.file {
            Some(path) if self.file_keys.contains(key) => Origin::File(path.clone()),
            _ => Origin::Default,
        }
    }
}

/// Picks the config file: `--config`, else `TOKPORTAL_CONFIG`, else `config.toml`
/// if present. A file named explicitly must exist.
fn resolve_file(flag: Option<&Path>, env: &HashMap<String, String>) -> Result<Option<PathBuf>, ConfigError> {
    let explicit = match flag {
        Some(p) => Some((p.to_path_buf(), "--config")),
        None => env
            .get("TOKPORTAL_CONFIG")
            .filter(|v| !v.is_empty())
            .map(|v| (PathBuf::from(v), "TOKPORTAL_CONFIG")),
    };
    match explicit {
        Some((path, named_by)) if path.is_dir() => Err(ConfigError::NotAFile { path, named_by }),
        Some((path, named_by)) if !path.is_file() => Err(ConfigError::MissingFile { path, named_by }),
        Some((path, _)) => Ok(Some(path)),
        None => Ok(Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.is_file())),
    }
}

/// Dotted paths of every leaf key (arrays are leaves).
fn flatten(prefix: &str, value: &serde_json::Value, out: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&path, v, out);
            }
        }
        _ => {
            out.insert(prefix.to_string());
        }
    }
}

/// Every dotted key the settings tree accepts.
pub fn known_keys() -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let defaults = serde_json::to_value(Settings::default()).expect("Settings serialises to JSON");
    flatten("", &defaults, &mut keys);
    keys
}

fn read_file(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError::Load {
        message: format!("cannot read config file {}: {e}", path.display()),
    })
}

fn file_keys(path: &Path, text: &str) -> Result<BTreeSet<String>, ConfigError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Load {
        message: format!("config file {} is not valid TOML: {e}", path.display()),
    })?;
    let json = serde_json::to_value(table)
        .map_err(|e| ConfigError::Load { message: format!("config file {}: {e}", path.display()) })?;
    let mut keys = BTreeSet::new();
    flatten("", &json, &mut keys);
    Ok(keys)
}

/// Reads every layer, rejects unknown keys, and deserialises the merged tree.
pub fn load_settings(
    flag: Option<&Path>,
    env: &HashMap<String, String>,
) -> Result<(Settings, Layers), ConfigError> {
    let file = resolve_file(flag, env)?;
    // Read once: the same text is checked for unknown keys and then merged.
    let text = file.as_deref().map(read_file).transpose()?;
    let file_keys = match (&file, &text) {
        (Some(path), Some(text)) => file_keys(path, text)?,
        _ => BTreeSet::new(),
    };
    let env_keys = env_keys(env)?;
    let layers = Layers { file, file_keys, env_keys };

    let known = known_keys();
    let unknown = layers.file_keys.iter().chain(layers.env_keys.keys()).find(|k| !known.contains(*k));
    if let Some(key) = unknown {
        return Err(ConfigError::UnknownKey { key: key.clone(), origin: layers.origin(key) });
    }

    let defaults = config::Config::try_from(&Settings::default()).map_err(load_error)?;
    let mut builder = config::Config::builder().add_source(defaults);
    if let Some(text) = &text {
        builder = builder.add_source(config::File::from_str(text, config::FileFormat::Toml));
    }
    let env_source = config::Environment::with_prefix("TOKPORTAL")
        .prefix_separator("__")
        .separator("__")
        .try_parsing(true)
        .list_separator(",")
        .with_list_parse_key("sync.streams")
        .source(Some(env.clone()));
    let settings = builder
        .add_source(env_source)
        .build()
        .and_then(|c| c.try_deserialize::<Settings>())
        .map_err(|e| type_error(e, &layers))?;
    Ok((settings, layers))
}

/// `TOKPORTAL__SECTION__KEY` variables by dotted key. The config crate reads
/// them whatever their case, so they are found the same way here: a lower-case
/// `tokportal__api__per_page` is reported under its own name, and the same key
/// given by two spellings is refused rather than one silently winning.
fn env_keys(env: &HashMap<String, String>) -> Result<HashMap<String, String>, ConfigError> {
    let mut keys: HashMap<String, String> = HashMap::new();
    let mut vars: Vec<&String> = env.keys().collect();
    vars.sort();
    for var in vars {
        let Some(prefix) = var.get(..ENV_PREFIX.len()) else { continue };
        if !prefix.eq_ignore_ascii_case(ENV_PREFIX) {
            continue;
        }
        let key = var[ENV_PREFIX.len()..].to_lowercase().replace("__", ".");
        if let Some(other) = keys.insert(key.clone(), var.clone()) {
            return Err(ConfigError::Load {
                message: format!(
                    "`{key}` is set twice, by the environment variables {other} and {var}: keep one"
                ),
            });
        }
    }
    Ok(keys)
}

fn load_error(e: config::ConfigError) -> ConfigError {
    ConfigError::Load { message: e.to_string() }
}

/// A wrong type (`per_page = "ten"`): name the key and its origin when the
/// config crate tells us the key.
fn type_error(e: config::ConfigError, layers: &Layers) -> ConfigError {
    match &e {
        config::ConfigError::Type { key: Some(key), unexpected, expected, .. } => ConfigError::Invalid {
            key: key.clone(),
            origin: layers.origin(key),
            message: format!("expected {expected}, got {unexpected}"),
        },
        _ => load_error(e),
    }
}
