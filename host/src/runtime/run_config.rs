//! Per-auditor run configuration: `enabled`, `fail_open`, sandbox limits and settings, resolved
//! from `lucid.toml` against the auditor's vocabulary. These are run limits, not policy: what an
//! exchange is allowed to do is decided by Cedar (`crate::policy`).

use std::time::Duration;

use crate::config::{AuditorConfig, Config, ConfigError};
use crate::runtime::sandbox::{Limits, MAX_MEMORY_MIB};
use crate::runtime::vocabulary::{SettingValue, Settings, Vocabulary};

/// How the runtime runs one auditor: whether at all, whether its failure fails the phase, its
/// sandbox limits and its settings (before scope overrides).
#[derive(Debug, Clone, PartialEq)]
pub struct RunConfig {
    pub enabled: bool,
    pub fail_open: bool,
    pub limits: Limits,
    pub settings: Settings,
}

/// The run configuration of an auditor: `[defaults]`, then its own `[auditors.<id>]` section,
/// with settings checked against its vocabulary (an unknown setting or a wrong type is an error
/// naming the field).
pub fn resolve(config: &Config, vocabulary: &Vocabulary) -> Result<RunConfig, ConfigError> {
    let id = &vocabulary.id;
    let own = config.auditors.get(id);
    let pick = |f: fn(&AuditorConfig) -> Option<u64>| own.and_then(f).or(f(&config.defaults));
    let base = Limits::default();
    let memory_mib = pick(|c| c.memory_mib).unwrap_or((base.memory_bytes >> 20) as u64);
    if memory_mib == 0 || memory_mib > MAX_MEMORY_MIB {
        return Err(ConfigError::Field {
            auditor: id.clone(),
            field: "memory_mib",
            message: format!(
                "expected 1..={MAX_MEMORY_MIB} (the engine's largest guest memory), got {memory_mib}"
            ),
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
    let flag = |f: fn(&AuditorConfig) -> Option<bool>| own.and_then(f).or(f(&config.defaults));
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
                    message: message.to_string(),
                }
            })?;
            settings.0.insert(name.clone(), value);
        }
    }
    Ok(RunConfig {
        enabled: own.and_then(|c| c.enabled).unwrap_or_else(|| {
            // A bundle's list picks the auditors that run; `[defaults] enabled` still applies
            // to those it lists.
            config
                .bundle_auditors
                .as_ref()
                .is_none_or(|listed| listed.contains(id))
                && config.defaults.enabled.unwrap_or(true)
        }),
        fail_open: flag(|c| c.fail_open).unwrap_or(false),
        limits,
        settings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::bindings::wit;

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
        let policy = resolve(&config, &vocabulary()).unwrap();
        assert!(policy.enabled && policy.fail_open);
        assert_eq!(policy.limits.deadline, Duration::from_millis(20));
        assert_eq!(policy.settings.0["max_tokens"], SettingValue::Count(10));
        let empty = resolve(&Config::default(), &vocabulary()).unwrap();
        assert_eq!(empty.limits, Limits::default());
        assert!(!empty.fail_open);
    }

    #[test]
    fn a_bundle_list_picks_the_auditors_that_run_and_the_file_can_add_one() {
        let listing = |id: &str| Config {
            bundle_auditors: Some([id.to_string()].into()),
            ..Config::default()
        };
        assert!(!resolve(&listing("pii"), &vocabulary()).unwrap().enabled);
        assert!(
            resolve(&listing("token_budget"), &vocabulary())
                .unwrap()
                .enabled
        );
        let mut named = Config::parse(
            "[auditors.token_budget]
enabled = true
",
            "t.toml",
        )
        .unwrap();
        named.bundle_auditors = Some(["pii".to_string()].into());
        assert!(resolve(&named, &vocabulary()).unwrap().enabled);
        let mut off = Config::parse(
            "[defaults]
enabled = false
",
            "t.toml",
        )
        .unwrap();
        off.bundle_auditors = Some(["token_budget".to_string()].into());
        assert!(!resolve(&off, &vocabulary()).unwrap().enabled);
    }

    #[test]
    fn a_wrong_setting_type_names_the_field() {
        let config = Config::parse(
            "[auditors.token_budget.settings]\nmax_tokens = \"many\"\n",
            "t.toml",
        )
        .unwrap();
        let err = resolve(&config, &vocabulary()).unwrap_err().to_string();
        assert!(
            err.contains("auditors.token_budget.settings.max_tokens"),
            "{err}"
        );
        let config = Config::parse(
            "[auditors.token_budget.settings]\nmax_tokenz = 1\n",
            "t.toml",
        )
        .unwrap();
        assert!(resolve(&config, &vocabulary()).is_err());
    }
}
