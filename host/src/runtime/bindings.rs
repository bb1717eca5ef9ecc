//! The one place that runs `bindgen!` for the auditor world, and the one place that converts
//! between the generated types and the contract's ([`lucid_contract`]): the rest of the host
//! only sees contract types.
//!
//! The host implements `lucid:auditor@0.2.0` (`wit/auditor`) and still loads auditors built
//! against 0.1.x (`wit/auditor-0.1`, frozen): [`v01`] has that world's bindings, converted here
//! to the current types (a 0.1 claim has no spans).

wasmtime::component::bindgen!({
    path: "../wit/auditor",
    world: "auditor-plugin",
});

/// The frozen `lucid:auditor@0.1.0` world.
pub mod v01 {
    wasmtime::component::bindgen!({
        path: "../wit/auditor-0.1",
        world: "auditor-plugin",
    });

    pub use self::lucid::auditor::types as wit;
}

/// Types of the `lucid:auditor/types` interface, as generated.
pub use self::lucid::auditor::types as wit;

/// The WIT package version this host implements; components exporting a semver-compatible
/// version (`0.2.x`) are accepted, and so are those of the previous one (`0.1.x`).
pub const AUDITOR_PACKAGE: &str = "lucid:auditor";
pub const AUDITOR_VERSION: &str = "0.2.0";
/// The fully qualified name of the interface an auditor exports.
pub const AUDITOR_INTERFACE: &str = "lucid:auditor/auditor@0.2.0";
/// The same interface in the previous version of the contract, still loaded.
pub const AUDITOR_INTERFACE_V01: &str = "lucid:auditor/auditor@0.1.0";

/// A 0.1 vocabulary as the current one (the records are the same).
pub fn vocabulary_from_v01(v: v01::wit::Vocabulary) -> wit::Vocabulary {
    wit::Vocabulary {
        id: v.id,
        version: v.version,
        description: v.description,
        phases: v.phases.into_iter().map(phase_from_v01).collect(),
        claims: v
            .claims
            .into_iter()
            .map(|c| wit::ClaimSpec {
                name: c.name,
                type_: claim_type_from_v01(c.type_),
                phases: c.phases.into_iter().map(phase_from_v01).collect(),
                description: c.description,
            })
            .collect(),
        settings: v
            .settings
            .into_iter()
            .map(|s| wit::SettingSpec {
                name: s.name,
                type_: setting_type_from_v01(s.type_),
                default: setting_value_from_v01(s.default),
                description: s.description,
            })
            .collect(),
    }
}

/// The current observation for a 0.1 auditor (the records are the same).
pub fn observation_to_v01(o: &wit::Observation) -> v01::wit::Observation {
    v01::wit::Observation {
        phase: phase_to_v01(o.phase),
        request_id: o.request_id.clone(),
        scope: v01::wit::Scope {
            org: o.scope.org.clone(),
            workspace: o.scope.workspace.clone(),
            agent: o.scope.agent.clone(),
        },
        request: o.request.clone(),
        response: o.response.clone(),
        artifacts: o.artifacts.clone(),
        settings: o
            .settings
            .iter()
            .map(|s| v01::wit::Setting {
                name: s.name.clone(),
                value: setting_value_to_v01(&s.value),
            })
            .collect(),
    }
}

/// A 0.1 claim as a current one, with no spans.
pub fn claim_from_v01(c: v01::wit::Claim) -> wit::Claim {
    use v01::wit::ClaimValue as V;
    wit::Claim {
        name: c.name,
        value: match c.value {
            V::ScoreNormalized(v) => wit::ClaimValue::ScoreNormalized(v),
            V::Boolean(v) => wit::ClaimValue::Boolean(v),
            V::String(v) => wit::ClaimValue::String(v),
            V::StringList(v) => wit::ClaimValue::StringList(v),
            V::Count(v) => wit::ClaimValue::Count(v),
            V::DurationMs(v) => wit::ClaimValue::DurationMs(v),
            V::Object(v) => wit::ClaimValue::Object(v),
        },
        confidence: c.confidence,
        metadata: c.metadata,
        spans: Vec::new(),
    }
}

/// A 0.1 auditor error as a current one.
pub fn error_from_v01(e: v01::wit::AuditorError) -> wit::AuditorError {
    match e {
        v01::wit::AuditorError::InvalidInput(m) => wit::AuditorError::InvalidInput(m),
        v01::wit::AuditorError::Failed(m) => wit::AuditorError::Failed(m),
    }
}

fn phase_from_v01(p: v01::wit::Phase) -> wit::Phase {
    wit::Phase::from(Phase::from(p))
}

fn phase_to_v01(p: wit::Phase) -> v01::wit::Phase {
    v01::wit::Phase::from(Phase::from(p))
}

fn claim_type_from_v01(t: v01::wit::ClaimType) -> wit::ClaimType {
    use v01::wit::ClaimType as T;
    match t {
        T::ScoreNormalized => wit::ClaimType::ScoreNormalized,
        T::Boolean => wit::ClaimType::Boolean,
        T::String => wit::ClaimType::String,
        T::StringList => wit::ClaimType::StringList,
        T::Count => wit::ClaimType::Count,
        T::DurationMs => wit::ClaimType::DurationMs,
        T::Object => wit::ClaimType::Object,
    }
}

fn setting_type_from_v01(t: v01::wit::SettingType) -> wit::SettingType {
    use v01::wit::SettingType as T;
    match t {
        T::Boolean => wit::SettingType::Boolean,
        T::Count => wit::SettingType::Count,
        T::Number => wit::SettingType::Number,
        T::String => wit::SettingType::String,
        T::StringList => wit::SettingType::StringList,
    }
}

fn setting_value_from_v01(v: v01::wit::SettingValue) -> wit::SettingValue {
    use v01::wit::SettingValue as V;
    match v {
        V::Boolean(v) => wit::SettingValue::Boolean(v),
        V::Count(v) => wit::SettingValue::Count(v),
        V::Number(v) => wit::SettingValue::Number(v),
        V::String(v) => wit::SettingValue::String(v),
        V::StringList(v) => wit::SettingValue::StringList(v),
    }
}

fn setting_value_to_v01(v: &wit::SettingValue) -> v01::wit::SettingValue {
    use v01::wit::SettingValue as V;
    match v {
        wit::SettingValue::Boolean(v) => V::Boolean(*v),
        wit::SettingValue::Count(v) => V::Count(*v),
        wit::SettingValue::Number(v) => V::Number(*v),
        wit::SettingValue::String(v) => V::String(v.clone()),
        wit::SettingValue::StringList(v) => V::StringList(v.clone()),
    }
}

impl From<v01::wit::Phase> for Phase {
    fn from(p: v01::wit::Phase) -> Self {
        match p {
            v01::wit::Phase::Artifact => Phase::Artifact,
            v01::wit::Phase::Request => Phase::Request,
            v01::wit::Phase::Execution => Phase::Execution,
            v01::wit::Phase::Response => Phase::Response,
        }
    }
}

impl From<Phase> for v01::wit::Phase {
    fn from(p: Phase) -> Self {
        match p {
            Phase::Artifact => v01::wit::Phase::Artifact,
            Phase::Request => v01::wit::Phase::Request,
            Phase::Execution => v01::wit::Phase::Execution,
            Phase::Response => v01::wit::Phase::Response,
        }
    }
}

use lucid_contract::{ClaimType, Phase, SettingType, SettingValue};

impl From<wit::Phase> for Phase {
    fn from(p: wit::Phase) -> Self {
        match p {
            wit::Phase::Artifact => Phase::Artifact,
            wit::Phase::Request => Phase::Request,
            wit::Phase::Execution => Phase::Execution,
            wit::Phase::Response => Phase::Response,
        }
    }
}

impl From<Phase> for wit::Phase {
    fn from(p: Phase) -> Self {
        match p {
            Phase::Artifact => wit::Phase::Artifact,
            Phase::Request => wit::Phase::Request,
            Phase::Execution => wit::Phase::Execution,
            Phase::Response => wit::Phase::Response,
        }
    }
}

impl From<wit::ClaimType> for ClaimType {
    fn from(t: wit::ClaimType) -> Self {
        match t {
            wit::ClaimType::ScoreNormalized => ClaimType::ScoreNormalized,
            wit::ClaimType::Boolean => ClaimType::Boolean,
            wit::ClaimType::String => ClaimType::String,
            wit::ClaimType::StringList => ClaimType::StringList,
            wit::ClaimType::Count => ClaimType::Count,
            wit::ClaimType::DurationMs => ClaimType::DurationMs,
            wit::ClaimType::Object => ClaimType::Object,
        }
    }
}

impl From<wit::SettingType> for SettingType {
    fn from(t: wit::SettingType) -> Self {
        match t {
            wit::SettingType::Boolean => SettingType::Boolean,
            wit::SettingType::Count => SettingType::Count,
            wit::SettingType::Number => SettingType::Number,
            wit::SettingType::String => SettingType::String,
            wit::SettingType::StringList => SettingType::StringList,
        }
    }
}

impl From<wit::SettingValue> for SettingValue {
    fn from(v: wit::SettingValue) -> Self {
        match v {
            wit::SettingValue::Boolean(v) => SettingValue::Boolean(v),
            wit::SettingValue::Count(v) => SettingValue::Count(v),
            wit::SettingValue::Number(v) => SettingValue::Number(v),
            wit::SettingValue::String(v) => SettingValue::String(v),
            wit::SettingValue::StringList(v) => SettingValue::StringList(v),
        }
    }
}

impl From<&SettingValue> for wit::SettingValue {
    fn from(v: &SettingValue) -> Self {
        match v {
            SettingValue::Boolean(v) => wit::SettingValue::Boolean(*v),
            SettingValue::Count(v) => wit::SettingValue::Count(*v),
            SettingValue::Number(v) => wit::SettingValue::Number(*v),
            SettingValue::String(v) => wit::SettingValue::String(v.clone()),
            SettingValue::StringList(v) => wit::SettingValue::StringList(v.clone()),
        }
    }
}
