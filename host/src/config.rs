//! `lucid.toml`: per-auditor switches, limits and settings. Unknown fields are errors (a typo must
//! not silently leave a default in force); settings are checked against each auditor's vocabulary.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::sandbox::Limits;
use crate::vocabulary::{SettingValue, Settings, Vocabulary};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid config {path}: {message}")]
    Parse { path: String, message: String },
    #[error("config field 'auditors.{auditor}.settings.{setting}': {message}")]
    Setting {
        auditor: String,
        setting: String,
        message: String,
    },
    #[error("config field 'auditors.{auditor}.{field}': {message}")]
    Field {
        auditor: String,
        field: &'static str,
        message: String,
    },
}

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Defaults for every auditor; `[auditors.<id>]` overrides them.
    #[serde(default)]
    pub defaults: AuditorConfig,
    /// Per-auditor configuration by auditor id.
    #[serde(default)]
    pub auditors: BTreeMap<String, AuditorConfig>,
}

/// Configuration of one auditor (or the defaults). Every field is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditorConfig {
    /// Run the auditor (default true).
    pub enabled: Option<bool>,
    /// Deadline of one call in ms (default 50).
    pub deadline_ms: Option<u64>,
    /// Memory cap in MiB (default 64).
    pub memory_mib: Option<u64>,
    /// Instruction budget of one call (default: none).
    pub fuel: Option<u64>,
    /// Let requests proceed when this auditor fails (default false: fail closed).
    pub fail_open: Option<bool>,
    /// Setting values, checked against the auditor's vocabulary.
    #[serde(default)]
    pub settings: BTreeMap<String, toml::Value>,
}

/// What the runtime needs to know to run one auditor.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditorPolicy {
    pub enabled: bool,
    pub fail_open: bool,
    pub limits: Limits,
    pub settings: Settings,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Load and return the SHA-256 of the file's bytes too (the `config_hash` of the artifact
    /// descriptor).
    pub fn load_with_hash(path: &Path) -> Result<(Config, String), ConfigError> {
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let text = String::from_utf8(bytes.clone()).map_err(|_| ConfigError::Parse {
            path: path.display().to_string(),
            message: "the file is not UTF-8".into(),
        })?;
        let config = Self::parse(&text, &path.display().to_string())?;
        Ok((config, crate::plugin::sha256_hex(&bytes)))
    }

    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_string(),
            message: e.to_string().trim().replace('\n', " "),
        })?;
        if !config.defaults.settings.is_empty() {
            return Err(ConfigError::Parse {
                path: origin.to_string(),
                message: "settings belong to one auditor: use [auditors.<id>.settings], not [defaults.settings]".into(),
            });
        }
        Ok(config)
    }

    /// The effective policy of an auditor: defaults, then its own section, with settings checked
    /// against its vocabulary (an unknown setting or a wrong type is an error naming the field).
    pub fn policy_for(&self, vocabulary: &Vocabulary) -> Result<AuditorPolicy, ConfigError> {
        let id = &vocabulary.id;
        let own = self.auditors.get(id);
        let pick = |f: fn(&AuditorConfig) -> Option<u64>| own.and_then(f).or(f(&self.defaults));
        let base = Limits::default();
        let memory_mib = pick(|c| c.memory_mib).unwrap_or((base.memory_bytes >> 20) as u64);
        if memory_mib == 0 || memory_mib > 4096 {
            return Err(ConfigError::Field {
                auditor: id.clone(),
                field: "memory_mib",
                message: format!("expected 1..=4096, got {memory_mib}"),
            });
        }
        let deadline_ms = pick(|c| c.deadline_ms).unwrap_or(base.deadline.as_millis() as u64);
        if deadline_ms == 0 || deadline_ms > 600_000 {
            return Err(ConfigError::Field {
                auditor: id.clone(),
                field: "deadline_ms",
                message: format!("expected 1..=600000, got {deadline_ms}"),
            });
        }
        let limits = Limits {
            deadline: Duration::from_millis(deadline_ms),
            memory_bytes: (memory_mib as usize) << 20,
            fuel: pick(|c| c.fuel),
            ..base
        };
        let flag = |f: fn(&AuditorConfig) -> Option<bool>| own.and_then(f).or(f(&self.defaults));
        let mut settings = vocabulary.default_settings();
        if let Some(own) = own {
            for (name, value) in &own.settings {
                let Some(spec) = vocabulary.setting(name) else {
                    return Err(ConfigError::Setting {
                        auditor: id.clone(),
                        setting: name.clone(),
                        message: vocabulary.unknown_setting(name),
                    });
                };
                let json = serde_json::to_value(value).map_err(|e| ConfigError::Setting {
                    auditor: id.clone(),
                    setting: name.clone(),
                    message: e.to_string(),
                })?;
                let value = SettingValue::from_json_as(spec.ty, &json).map_err(|message| {
                    ConfigError::Setting {
                        auditor: id.clone(),
                        setting: name.clone(),
                        message,
                    }
                })?;
                settings.0.insert(name.clone(), value);
            }
        }
        Ok(AuditorPolicy {
            enabled: flag(|c| c.enabled).unwrap_or(true),
            fail_open: flag(|c| c.fail_open).unwrap_or(false),
            limits,
            settings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::wit;

    fn vocabulary() -> Vocabulary {
        Vocabulary::from_guest(wit::Vocabulary {
            id: "token_budget".into(),
            version: "0.1.0".into(),
            description: "".into(),
            phases: vec![wit::Phase::Request],
            claims: vec![],
            settings: vec![wit::SettingSpec {
                name: "max_tokens".into(),
                type_: wit::SettingType::Count,
                default: wit::SettingValue::Count(4096),
                description: "".into(),
            }],
        })
        .unwrap()
    }

    #[test]
    fn defaults_apply_and_sections_override() {
        let config = Config::parse(
            "[defaults]\ndeadline_ms = 20\n[auditors.token_budget]\nfail_open = true\nsettings = { max_tokens = 10 }\n",
            "t.toml",
        )
        .unwrap();
        let policy = config.policy_for(&vocabulary()).unwrap();
        assert!(policy.enabled && policy.fail_open);
        assert_eq!(policy.limits.deadline, Duration::from_millis(20));
        assert_eq!(policy.settings.0["max_tokens"], SettingValue::Count(10));
        let empty = Config::default().policy_for(&vocabulary()).unwrap();
        assert_eq!(empty.limits, Limits::default());
        assert!(!empty.fail_open);
    }

    #[test]
    fn a_wrong_setting_type_names_the_field() {
        let config = Config::parse(
            "[auditors.token_budget.settings]\nmax_tokens = \"many\"\n",
            "t.toml",
        )
        .unwrap();
        let err = config.policy_for(&vocabulary()).unwrap_err().to_string();
        assert!(
            err.contains("auditors.token_budget.settings.max_tokens"),
            "{err}"
        );
        let config = Config::parse(
            "[auditors.token_budget.settings]\nmax_tokenz = 1\n",
            "t.toml",
        )
        .unwrap();
        assert!(config.policy_for(&vocabulary()).is_err());
    }

    #[test]
    fn unknown_fields_are_errors() {
        let err = Config::parse("[auditors.pii]\nfail_opn = true\n", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("fail_opn"), "{err}");
    }
}
