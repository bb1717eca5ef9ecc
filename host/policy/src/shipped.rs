//! The vocabularies and setting defaults of the auditors shipped in `plugins/`, so the shipped
//! schema and presets can be generated, validated and tested without loading any wasm. They
//! mirror the crates in `guests/`; the host's test `catalogue.rs` checks them against what the
//! built plugins describe.

use serde_json::json;

use crate::claims::{AuditorVocabulary, ClaimType};
use crate::overrides::Settings;

/// Every shipped auditor's claims, as its `describe` declares them.
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
        AuditorVocabulary::new(
            "integrity",
            [
                ("artifacts_match", ClaimType::Boolean),
                ("unexpected_artifacts", ClaimType::StringList),
            ],
        ),
        AuditorVocabulary::new(
            "model_card",
            [
                ("model_card_complete", ClaimType::Boolean),
                ("missing_fields", ClaimType::StringList),
            ],
        ),
        AuditorVocabulary::new(
            "geo_fence",
            [
                ("region", ClaimType::String),
                ("region_allowed", ClaimType::Boolean),
            ],
        ),
        AuditorVocabulary::new(
            "loop_breaker",
            [
                ("loop_detected", ClaimType::Boolean),
                ("repeat_count", ClaimType::Count),
            ],
        ),
        AuditorVocabulary::new(
            "mcp_firewall",
            [
                ("tool_blocked", ClaimType::Boolean),
                ("blocked_tools", ClaimType::StringList),
            ],
        ),
        AuditorVocabulary::new(
            "token_economist",
            [
                ("estimated_cost_micro_usd", ClaimType::Count),
                ("estimated_latency_ms", ClaimType::DurationMs),
                ("over_budget", ClaimType::Boolean),
                ("latency_over_budget", ClaimType::Boolean),
            ],
        ),
        AuditorVocabulary::new(
            "toxicity",
            [
                ("toxicity", ClaimType::ScoreNormalized),
                ("toxic", ClaimType::Boolean),
                ("toxic_categories", ClaimType::StringList),
            ],
        ),
        AuditorVocabulary::new(
            "grounding",
            [
                ("grounding_score", ClaimType::ScoreNormalized),
                ("grounded", ClaimType::Boolean),
                ("grounding_context", ClaimType::Boolean),
            ],
        ),
    ]
}

/// The shipped auditors' defaults of the settings the shipped bundles enforce (the host's test
/// `catalogue.rs` checks each against the built plugin's vocabulary).
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
    defaults.insert(
        "mcp_firewall".into(),
        [
            ("denied_tools".to_string(), json!([])),
            (
                "denied_domains".to_string(),
                json!([
                    "169.254.169.254",
                    "fd00:ec2::254",
                    "metadata.google.internal"
                ]),
            ),
        ]
        .into(),
    );
    defaults.insert(
        "loop_breaker".into(),
        [("max_repeats".to_string(), json!(3))].into(),
    );
    defaults.insert(
        "toxicity".into(),
        [("threshold".to_string(), json!(0.4))].into(),
    );
    defaults.insert(
        "geo_fence".into(),
        [("trust_header".to_string(), json!(true))].into(),
    );
    defaults
}
