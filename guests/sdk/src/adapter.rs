//! The only code that touches the generated bindings: conversions between the WIT types and the
//! contract's types (`lucid-contract`) and the SDK's own, and the generic `Guest` implementation
//! that `export_auditor!` exports.

use std::marker::PhantomData;

use lucid_contract::{Claim, ClaimType, ClaimValue, Phase, Scope, SettingType, SettingValue};

use crate::Auditor;
use crate::bindings::exports::lucid::auditor::auditor::Guest;
use crate::bindings::lucid::auditor::types as wit;
use crate::error::Error;
use crate::input::{Input, Settings};
use crate::vocabulary::Vocabulary;

/// Implements the generated `Guest` trait for any [`Auditor`]. Not public API: use
/// [`export_auditor!`](crate::export_auditor).
#[doc(hidden)]
pub struct Adapter<T>(PhantomData<T>);

impl<T: Auditor> Guest for Adapter<T> {
    fn describe() -> wit::Vocabulary {
        vocabulary_to_wit(T::describe())
    }

    fn observe(observation: wit::Observation) -> Result<Vec<wit::Claim>, wit::AuditorError> {
        let input = input_from_wit(observation).map_err(error_to_wit)?;
        let claims = T::observe(&input).map_err(error_to_wit)?;
        Ok(claims.into_iter().map(claim_to_wit).collect())
    }
}

fn input_from_wit(observation: wit::Observation) -> Result<Input, Error> {
    let wit::Observation {
        phase,
        request_id,
        scope,
        request,
        response,
        artifacts,
        settings,
    } = observation;
    let mut input = Input::new(phase_from_wit(phase), &request)?;
    if let Some(response) = response {
        input = input.with_response(&response)?;
    }
    if let Some(artifacts) = artifacts {
        input = input.with_artifacts(&artifacts)?;
    }
    let settings = settings
        .into_iter()
        .fold(Settings::new(), |settings, setting| {
            settings.with(setting.name, setting_value_from_wit(setting.value))
        });
    Ok(input
        .with_request_id(request_id)
        .with_scope(Scope {
            org: scope.org,
            workspace: scope.workspace,
            agent: scope.agent,
        })
        .with_settings(settings))
}

fn vocabulary_to_wit(vocabulary: Vocabulary) -> wit::Vocabulary {
    let claims = vocabulary
        .claims()
        .iter()
        .map(|spec| wit::ClaimSpec {
            name: spec.name().to_owned(),
            type_: claim_type_to_wit(spec.claim_type()),
            phases: vocabulary
                .effective_phases(spec)
                .iter()
                .copied()
                .map(phase_to_wit)
                .collect(),
            description: spec.description().to_owned(),
        })
        .collect();
    let settings = vocabulary
        .settings()
        .iter()
        .map(|spec| wit::SettingSpec {
            name: spec.name().to_owned(),
            type_: setting_type_to_wit(spec.setting_type()),
            default: setting_value_to_wit(spec.default_value().clone()),
            description: spec.description().to_owned(),
        })
        .collect();
    wit::Vocabulary {
        // Benchmark copies (`cargo xtask bench scale`) are built with LUCID_AUDITOR_ID_SUFFIX set
        // (e.g. `_2`), so that N copies of one auditor load side by side under distinct ids.
        id: format!(
            "{}{}",
            vocabulary.id(),
            option_env!("LUCID_AUDITOR_ID_SUFFIX").unwrap_or("")
        ),
        version: vocabulary.version().to_owned(),
        description: vocabulary.description().to_owned(),
        phases: vocabulary
            .observed_phases()
            .iter()
            .copied()
            .map(phase_to_wit)
            .collect(),
        claims,
        settings,
    }
}

fn claim_to_wit(claim: Claim) -> wit::Claim {
    let Claim {
        name,
        value,
        confidence,
        metadata,
        spans,
    } = claim;
    let value = match value {
        ClaimValue::ScoreNormalized(score) => wit::ClaimValue::ScoreNormalized(score),
        ClaimValue::Boolean(value) => wit::ClaimValue::Boolean(value),
        ClaimValue::String(value) => wit::ClaimValue::String(value),
        ClaimValue::StringList(values) => wit::ClaimValue::StringList(values),
        ClaimValue::Count(value) => wit::ClaimValue::Count(value),
        ClaimValue::DurationMs(value) => wit::ClaimValue::DurationMs(value),
        ClaimValue::Object(value) => wit::ClaimValue::Object(value.to_string()),
    };
    wit::Claim {
        name,
        value,
        confidence,
        metadata: metadata.map(|metadata| metadata.to_string()),
        spans: spans
            .into_iter()
            .map(|span| wit::Span {
                field: span.field,
                start: span.start,
                end: span.end,
                kind: span.kind,
                label: span.label,
            })
            .collect(),
    }
}

fn error_to_wit(error: Error) -> wit::AuditorError {
    match error {
        Error::InvalidInput(message) => wit::AuditorError::InvalidInput(message),
        Error::Failed(message) => wit::AuditorError::Failed(message),
    }
}

fn phase_from_wit(phase: wit::Phase) -> Phase {
    match phase {
        wit::Phase::Artifact => Phase::Artifact,
        wit::Phase::Request => Phase::Request,
        wit::Phase::Execution => Phase::Execution,
        wit::Phase::Response => Phase::Response,
    }
}

fn phase_to_wit(phase: Phase) -> wit::Phase {
    match phase {
        Phase::Artifact => wit::Phase::Artifact,
        Phase::Request => wit::Phase::Request,
        Phase::Execution => wit::Phase::Execution,
        Phase::Response => wit::Phase::Response,
    }
}

fn claim_type_to_wit(claim_type: ClaimType) -> wit::ClaimType {
    match claim_type {
        ClaimType::ScoreNormalized => wit::ClaimType::ScoreNormalized,
        ClaimType::Boolean => wit::ClaimType::Boolean,
        ClaimType::String => wit::ClaimType::String,
        ClaimType::StringList => wit::ClaimType::StringList,
        ClaimType::Count => wit::ClaimType::Count,
        ClaimType::DurationMs => wit::ClaimType::DurationMs,
        ClaimType::Object => wit::ClaimType::Object,
    }
}

fn setting_type_to_wit(setting_type: SettingType) -> wit::SettingType {
    match setting_type {
        SettingType::Boolean => wit::SettingType::Boolean,
        SettingType::Count => wit::SettingType::Count,
        SettingType::Number => wit::SettingType::Number,
        SettingType::String => wit::SettingType::String,
        SettingType::StringList => wit::SettingType::StringList,
    }
}

fn setting_value_to_wit(value: SettingValue) -> wit::SettingValue {
    match value {
        SettingValue::Boolean(value) => wit::SettingValue::Boolean(value),
        SettingValue::Count(value) => wit::SettingValue::Count(value),
        SettingValue::Number(value) => wit::SettingValue::Number(value),
        SettingValue::String(value) => wit::SettingValue::String(value),
        SettingValue::StringList(values) => wit::SettingValue::StringList(values),
    }
}

fn setting_value_from_wit(value: wit::SettingValue) -> SettingValue {
    match value {
        wit::SettingValue::Boolean(value) => SettingValue::Boolean(value),
        wit::SettingValue::Count(value) => SettingValue::Count(value),
        wit::SettingValue::Number(value) => SettingValue::Number(value),
        wit::SettingValue::String(value) => SettingValue::String(value),
        wit::SettingValue::StringList(values) => SettingValue::StringList(values),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::{ClaimSpec, SettingSpec};

    struct Echo;

    impl Auditor for Echo {
        fn describe() -> Vocabulary {
            Vocabulary::new("echo", "0.1.0", "echoes")
                .phases([Phase::Request, Phase::Response])
                .claim(ClaimSpec::new(
                    "messages",
                    ClaimType::Count,
                    "message count",
                ))
                .claim(ClaimSpec::new("org", ClaimType::String, "the org").phases([Phase::Request]))
                .setting(SettingSpec::count("limit", 3, "a limit"))
        }

        fn observe(input: &Input) -> Result<Vec<Claim>, Error> {
            let limit = input
                .settings()
                .count("limit")
                .ok_or_else(|| Error::failed("setting 'limit' is missing"))?;
            Ok(vec![
                Claim::count("messages", input.messages().len() as u64)
                    .with_metadata(serde_json::json!({ "limit": limit })),
                Claim::string("org", &input.scope().org),
            ])
        }
    }

    fn observation(request: &str, settings: Vec<wit::Setting>) -> wit::Observation {
        wit::Observation {
            phase: wit::Phase::Request,
            request_id: "req-1".to_owned(),
            scope: wit::Scope {
                org: "acme".to_owned(),
                workspace: "w".to_owned(),
                agent: "a".to_owned(),
            },
            request: request.to_owned(),
            response: None,
            artifacts: None,
            settings,
        }
    }

    #[test]
    fn describe_fills_in_inherited_claim_phases() {
        let vocabulary = <Adapter<Echo> as Guest>::describe();
        assert_eq!(vocabulary.id, "echo");
        assert_eq!(vocabulary.claims[0].phases.len(), 2);
        assert!(matches!(
            vocabulary.claims[1].phases[..],
            [wit::Phase::Request]
        ));
        assert!(matches!(
            vocabulary.settings[0].default,
            wit::SettingValue::Count(3)
        ));
    }

    #[test]
    fn observe_converts_both_ways() {
        let settings = vec![wit::Setting {
            name: "limit".to_owned(),
            value: wit::SettingValue::Count(7),
        }];
        let claims =
            <Adapter<Echo> as Guest>::observe(observation(r#"{"messages":[]}"#, settings)).unwrap();
        assert_eq!(claims.len(), 2);
        assert!(matches!(claims[0].value, wit::ClaimValue::Count(0)));
        assert_eq!(claims[0].metadata.as_deref(), Some(r#"{"limit":7}"#));
        assert!(matches!(&claims[1].value, wit::ClaimValue::String(org) if org == "acme"));
    }

    #[test]
    fn errors_map_to_the_wit_variants() {
        let invalid = <Adapter<Echo> as Guest>::observe(observation("{", Vec::new())).unwrap_err();
        assert!(matches!(invalid, wit::AuditorError::InvalidInput(_)));
        let failed = <Adapter<Echo> as Guest>::observe(observation("{}", Vec::new())).unwrap_err();
        assert!(matches!(failed, wit::AuditorError::Failed(message) if message.contains("limit")));
    }
}
