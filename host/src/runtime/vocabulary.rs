//! An auditor's vocabulary (what it observes, which claims it emits, which settings it takes) and
//! its settings values, checked when the plugin is loaded.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::runtime::bindings::wit;
use crate::runtime::claim::{ClaimType, Phase};

#[derive(Debug, Clone, Serialize)]
pub struct Vocabulary {
    pub id: String,
    pub version: String,
    pub description: String,
    pub phases: Vec<Phase>,
    pub claims: Vec<ClaimSpec>,
    pub settings: Vec<SettingSpec>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClaimSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ClaimType,
    pub phases: Vec<Phase>,
    pub description: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SettingSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: SettingType,
    pub default: SettingValue,
    pub description: String,
}

pub use lucid_contract::{SettingType, SettingValue};

/// Why a vocabulary returned by `describe` is unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VocabularyError {
    #[error(
        "auditor id '{0}' is invalid: expected 1-64 characters of lowercase letters, digits, '-' and '_', starting with a letter"
    )]
    BadId(String),
    #[error(
        "claim name '{0}' is invalid: expected 1-128 characters of letters, digits, '_' and '.'"
    )]
    BadClaimName(String),
    #[error("claim name '{0}' is reserved: names starting with 'lucid.' belong to the host")]
    ReservedClaimName(String),
    #[error("claim '{0}' is declared twice")]
    DuplicateClaim(String),
    #[error("setting name '{0}' is invalid: expected 1-64 characters of letters, digits and '_'")]
    BadSettingName(String),
    #[error("setting '{0}' is declared twice")]
    DuplicateSetting(String),
    #[error("setting '{name}' is declared as {declared} but its default is a {default}")]
    DefaultType {
        name: String,
        declared: SettingType,
        default: SettingType,
    },
    #[error("setting '{0}' has a default that is not a finite number")]
    DefaultNotFinite(String),
    #[error("setting '{0}' has a default count above 2^53-1")]
    DefaultTooLarge(String),
    #[error("the auditor observes no phase")]
    NoPhase,
    #[error("the vocabulary declares {count} {what}, more than the {max} allowed")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error("the vocabulary's {what} is {len} bytes long, more than the {max} allowed")]
    TooLong {
        what: String,
        len: usize,
        max: usize,
    },
    #[error("claim '{name}' is declared for the {phase} phase, which the auditor does not observe")]
    ClaimPhase { name: String, phase: Phase },
}

fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    (1..=64).contains(&id.len())
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn valid_claim_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
}

fn valid_setting_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
}

/// Most claims one vocabulary may declare.
pub const MAX_CLAIMS: usize = 1024;
/// Most settings one vocabulary may declare.
pub const MAX_SETTINGS: usize = 256;
/// Longest description, version or default string value, in bytes.
pub const MAX_TEXT_BYTES: usize = 4096;

/// The first 64 characters of a guest-chosen name, for messages.
fn truncated(name: &str) -> String {
    name.chars().take(64).collect()
}

/// Bounds on what a guest's `describe` may return, checked before anything else is done with it.
fn check_sizes(v: &wit::Vocabulary) -> Result<(), VocabularyError> {
    let too_many =
        |what, count, max| (count > max).then_some(VocabularyError::TooMany { what, count, max });
    if let Some(e) = too_many("claims", v.claims.len(), MAX_CLAIMS)
        .or_else(|| too_many("settings", v.settings.len(), MAX_SETTINGS))
        .or_else(|| too_many("phases", v.phases.len(), 16))
    {
        return Err(e);
    }
    let texts = [("version", &v.version), ("description", &v.description)]
        .into_iter()
        .map(|(what, text)| (what.to_string(), text.len()))
        .chain(v.claims.iter().map(|c| {
            (
                format!("description of claim '{}'", truncated(&c.name)),
                c.description.len(),
            )
        }))
        .chain(v.settings.iter().map(|s| {
            let default = match &s.default {
                wit::SettingValue::String(t) => t.len(),
                wit::SettingValue::StringList(l) => l.iter().map(|t| t.len() + 1).sum(),
                _ => 0,
            };
            (
                format!("description or default of setting '{}'", truncated(&s.name)),
                s.description.len().max(default),
            )
        }));
    for (what, len) in texts {
        if len > MAX_TEXT_BYTES {
            return Err(VocabularyError::TooLong {
                what,
                len,
                max: MAX_TEXT_BYTES,
            });
        }
    }
    Ok(())
}

impl Vocabulary {
    /// Convert and check the vocabulary a guest returned from `describe`.
    pub fn from_guest(v: wit::Vocabulary) -> Result<Self, VocabularyError> {
        if !valid_id(&v.id) {
            return Err(VocabularyError::BadId(v.id));
        }
        check_sizes(&v)?;
        let phases = dedup(v.phases.into_iter().map(Phase::from));
        if phases.is_empty() {
            return Err(VocabularyError::NoPhase);
        }
        let mut claim_names = std::collections::HashSet::with_capacity(v.claims.len());
        let mut claims: Vec<ClaimSpec> = Vec::with_capacity(v.claims.len());
        for c in v.claims {
            if c.name.starts_with("lucid.") {
                return Err(VocabularyError::ReservedClaimName(c.name));
            }
            if !valid_claim_name(&c.name) {
                return Err(VocabularyError::BadClaimName(c.name));
            }
            if !claim_names.insert(c.name.clone()) {
                return Err(VocabularyError::DuplicateClaim(c.name));
            }
            let claim_phases = if c.phases.is_empty() {
                phases.clone()
            } else {
                dedup(c.phases.into_iter().map(Phase::from))
            };
            if let Some(p) = claim_phases.iter().find(|p| !phases.contains(p)) {
                return Err(VocabularyError::ClaimPhase {
                    name: c.name,
                    phase: *p,
                });
            }
            claims.push(ClaimSpec {
                name: c.name,
                ty: c.type_.into(),
                phases: claim_phases,
                description: c.description,
            });
        }
        let mut setting_names = std::collections::HashSet::with_capacity(v.settings.len());
        let mut settings: Vec<SettingSpec> = Vec::with_capacity(v.settings.len());
        for s in v.settings {
            if !valid_setting_name(&s.name) {
                return Err(VocabularyError::BadSettingName(s.name));
            }
            if !setting_names.insert(s.name.clone()) {
                return Err(VocabularyError::DuplicateSetting(s.name));
            }
            let ty = SettingType::from(s.type_);
            let default = SettingValue::from(s.default);
            if default.setting_type() != ty {
                return Err(VocabularyError::DefaultType {
                    name: s.name,
                    declared: ty,
                    default: default.setting_type(),
                });
            }
            if let SettingValue::Number(n) = default
                && !n.is_finite()
            {
                return Err(VocabularyError::DefaultNotFinite(s.name));
            }
            if let SettingValue::Count(n) = default
                && n > lucid_contract::MAX_SAFE_INTEGER
            {
                return Err(VocabularyError::DefaultTooLarge(s.name));
            }
            settings.push(SettingSpec {
                name: s.name,
                ty,
                default,
                description: s.description,
            });
        }
        Ok(Vocabulary {
            id: v.id,
            version: v.version,
            description: v.description,
            phases,
            claims,
            settings,
        })
    }

    pub fn claim(&self, name: &str) -> Option<&ClaimSpec> {
        self.claims.iter().find(|c| c.name == name)
    }

    pub fn setting(&self, name: &str) -> Option<&SettingSpec> {
        self.settings.iter().find(|s| s.name == name)
    }

    pub fn observes(&self, phase: Phase) -> bool {
        self.phases.contains(&phase)
    }

    /// The default settings, to which overrides are applied.
    pub fn default_settings(&self) -> Settings {
        Settings(
            self.settings
                .iter()
                .map(|s| (s.name.clone(), s.default.clone()))
                .collect(),
        )
    }

    /// Parse `name=value` against the declared settings.
    pub fn parse_assignment(&self, assignment: &str) -> Result<(String, SettingValue), String> {
        let Some((name, value)) = assignment.split_once('=') else {
            return Err(format!(
                "setting '{assignment}' is not of the form name=value"
            ));
        };
        let name = name.trim();
        let Some(spec) = self.setting(name) else {
            return Err(self.unknown_setting(name));
        };
        let value = SettingValue::parse_as(spec.ty, value)
            .map_err(|e| format!("setting '{name}' of auditor '{}': {e}", self.id))?;
        Ok((name.to_string(), value))
    }

    pub fn unknown_setting(&self, name: &str) -> String {
        let known: Vec<&str> = self.settings.iter().map(|s| s.name.as_str()).collect();
        if known.is_empty() {
            format!(
                "auditor '{}' has no setting '{name}' (it has no settings)",
                self.id
            )
        } else {
            format!(
                "auditor '{}' has no setting '{name}' (its settings: {})",
                self.id,
                known.join(", ")
            )
        }
    }
}

fn dedup(phases: impl Iterator<Item = Phase>) -> Vec<Phase> {
    let mut out: Vec<Phase> = phases.collect();
    out.sort();
    out.dedup();
    out
}

/// Effective settings of one auditor: every declared setting with a value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings(pub BTreeMap<String, SettingValue>);

impl Settings {
    pub fn to_wit(&self) -> Vec<wit::Setting> {
        self.0
            .iter()
            .map(|(name, value)| wit::Setting {
                name: name.clone(),
                value: value.into(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guest_vocab() -> wit::Vocabulary {
        wit::Vocabulary {
            id: "pii".into(),
            version: "0.1.0".into(),
            description: "finds pii".into(),
            phases: vec![wit::Phase::Request],
            claims: vec![wit::ClaimSpec {
                name: "pii_detected".into(),
                type_: wit::ClaimType::Boolean,
                phases: vec![],
                description: "".into(),
            }],
            settings: vec![wit::SettingSpec {
                name: "max_tokens".into(),
                type_: wit::SettingType::Count,
                default: wit::SettingValue::Count(4096),
                description: "".into(),
            }],
        }
    }

    #[test]
    fn a_good_vocabulary_converts() {
        let v = Vocabulary::from_guest(guest_vocab()).unwrap();
        assert_eq!(
            v.claim("pii_detected").unwrap().phases,
            vec![Phase::Request]
        );
        assert_eq!(
            v.default_settings().0["max_tokens"],
            SettingValue::Count(4096)
        );
    }

    #[test]
    fn bad_vocabularies_are_rejected() {
        let mut v = guest_vocab();
        v.id = "Bad Id".into();
        assert!(matches!(
            Vocabulary::from_guest(v),
            Err(VocabularyError::BadId(_))
        ));

        let mut v = guest_vocab();
        v.claims[0].name = "lucid.auditor_error".into();
        assert!(matches!(
            Vocabulary::from_guest(v),
            Err(VocabularyError::ReservedClaimName(_))
        ));

        let mut v = guest_vocab();
        v.claims.push(v.claims[0].clone());
        assert!(matches!(
            Vocabulary::from_guest(v),
            Err(VocabularyError::DuplicateClaim(_))
        ));

        let mut v = guest_vocab();
        v.settings[0].default = wit::SettingValue::Boolean(true);
        assert!(matches!(
            Vocabulary::from_guest(v),
            Err(VocabularyError::DefaultType { .. })
        ));

        let mut v = guest_vocab();
        v.claims[0].phases = vec![wit::Phase::Response];
        assert!(matches!(
            Vocabulary::from_guest(v),
            Err(VocabularyError::ClaimPhase { .. })
        ));
    }

    #[test]
    fn assignments_are_typed() {
        let v = Vocabulary::from_guest(guest_vocab()).unwrap();
        assert_eq!(
            v.parse_assignment("max_tokens=10").unwrap(),
            ("max_tokens".into(), SettingValue::Count(10))
        );
        assert!(v.parse_assignment("max_tokens=-1").is_err());
        assert!(v.parse_assignment("max_tokens").is_err());
        let err = v.parse_assignment("nope=1").unwrap_err();
        assert!(err.contains("max_tokens"), "{err}");
    }
}
