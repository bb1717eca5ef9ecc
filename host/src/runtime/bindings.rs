//! The one place that runs `bindgen!` for the auditor world, and the one place that converts
//! between the generated types and the contract's ([`lucid_contract`]): the rest of the host
//! only sees contract types.

wasmtime::component::bindgen!({
    path: "../wit/auditor",
    world: "auditor-plugin",
});

/// Types of the `lucid:auditor/types` interface, as generated.
pub use self::lucid::auditor::types as wit;

/// The WIT package version this host implements; components exporting a semver-compatible
/// version (`0.1.x`) are accepted.
pub const AUDITOR_PACKAGE: &str = "lucid:auditor";
pub const AUDITOR_VERSION: &str = "0.1.0";
/// The fully qualified name of the interface an auditor must export.
pub const AUDITOR_INTERFACE: &str = "lucid:auditor/auditor@0.1.0";

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
