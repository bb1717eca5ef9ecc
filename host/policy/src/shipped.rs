//! The vocabularies and setting defaults of the auditors shipped in `plugins/`, so the shipped
//! schema and presets can be generated, validated and tested without loading any wasm. They
//! mirror `guests/{pii,injection,token-budget}`; the host's tests can compare them with what
//! the plugins describe.

use serde_json::json;

use crate::claims::{AuditorVocabulary, ClaimType};
use crate::overrides::Settings;

/// `pii`, `injection` and `token_budget`, as their `describe` declares them.
pub fn shipped_vocabularies() -> Vec<AuditorVocabulary> {
    vec![
        AuditorVocabulary::new(
            "pii",
            [
                ("pii_detected", ClaimType::Boolean),
                ("pii_entities", ClaimType::StringList),
                ("pii_count", ClaimType::Count),
            ],
        ),
        AuditorVocabulary::new(
            "injection",
            [
                ("injection_risk", ClaimType::ScoreNormalized),
                ("injection_detected", ClaimType::Boolean),
            ],
        ),
        AuditorVocabulary::new(
            "token_budget",
            [
                ("estimated_tokens", ClaimType::Count),
                ("over_budget", ClaimType::Boolean),
            ],
        ),
    ]
}

/// The shipped auditors' setting defaults: `injection.threshold` 0.7 and
/// `token_budget.max_tokens` 4096.
pub fn shipped_setting_defaults() -> Settings {
    let mut defaults = Settings::new();
    defaults.insert("pii".into(), Default::default());
    defaults.insert(
        "injection".into(),
        [("threshold".to_string(), json!(0.7))].into(),
    );
    defaults.insert(
        "token_budget".into(),
        [("max_tokens".to_string(), json!(4096))].into(),
    );
    defaults
}
