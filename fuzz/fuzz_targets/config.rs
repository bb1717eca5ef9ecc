//! `lucid.toml` from arbitrary text: parsed into `Config`, then what the host does with it at
//! load time that needs no plugin: each auditor setting read as every setting type (as the run
//! configuration reads it against a vocabulary), the stream mode of each configured scope, and
//! the check of every org enforcement and override against auditor defaults (one setting of
//! every kind, plus the settings the config gives). No input may panic; an error is a typed
//! `ConfigError`, `SettingError` or list of `OverrideError`s. A setting value that is read reads
//! back the same from its JSON form (the form receipts bind).

#![no_main]

use libfuzzer_sys::fuzz_target;
use lucid_config::Config;
use lucid_contract::{Scope, SettingType, SettingValue};
use lucid_overrides::{ScopeSettings, Settings};
use serde_json::json;

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let config = match Config::parse(text, "fuzz.toml") {
        Ok(config) => config,
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.starts_with("invalid config fuzz.toml: "),
                "{message}"
            );
            return;
        }
    };
    for auditor in config.auditors.values() {
        for value in auditor.settings.values() {
            let Ok(json) = serde_json::to_value(value) else {
                continue;
            };
            for ty in SettingType::ALL {
                if let Ok(setting) = SettingValue::from_json_as(ty, &json) {
                    assert_eq!(setting.setting_type(), ty);
                    assert_eq!(
                        SettingValue::from_json_as(ty, &setting.to_json()),
                        Ok(setting)
                    );
                }
            }
        }
    }
    for rule in &config.streaming.scopes {
        let workspace = rule.workspace.as_deref().unwrap_or("");
        let agent = rule.agent.as_deref().unwrap_or("");
        let _ = config.streaming.mode_for(&rule.org, workspace, agent);
    }
    let settings = ScopeSettings {
        orgs: config.orgs.clone(),
    };
    let defaults = defaults(&config);
    let _ = settings.check(&defaults);
    for (org, o) in &config.orgs {
        for (workspace, w) in &o.workspaces {
            for agent in w.agents.keys() {
                let scope = Scope {
                    org: org.clone(),
                    workspace: workspace.clone(),
                    agent: agent.clone(),
                };
                let _ = settings.effective(&defaults, &scope);
            }
        }
    }
});

/// The shipped auditors' defaults, a setting of every kind, and the config's own settings.
fn defaults(config: &Config) -> Settings {
    let fixed = json!({
        "injection": {"threshold": 0.7},
        "token_budget": {"max_tokens": 4096},
        "pii": {"block": true, "kinds": ["email", "phone"], "mask": "***"},
    });
    let mut defaults: Settings = serde_json::from_value(fixed).expect("settings by auditor");
    for (id, auditor) in &config.auditors {
        for (name, value) in &auditor.settings {
            if let Ok(value) = serde_json::to_value(value) {
                defaults
                    .entry(id.clone())
                    .or_default()
                    .insert(name.clone(), value);
            }
        }
    }
    defaults
}
