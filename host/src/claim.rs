//! Claims: the typed observations auditors make, as the host sees them after checking them
//! against the auditor's vocabulary.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bindings::wit;

/// When in an exchange an observation happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Artifact,
    Request,
    Execution,
    Response,
}

impl Phase {
    pub const ALL: [Phase; 4] = [
        Phase::Artifact,
        Phase::Request,
        Phase::Execution,
        Phase::Response,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Artifact => "artifact",
            Phase::Request => "request",
            Phase::Execution => "execution",
            Phase::Response => "response",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Phase {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phase::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                format!("unknown phase '{s}' (expected artifact, request, execution or response)")
            })
    }
}

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

/// The seven claim types; their snake_case names are a public contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimType {
    ScoreNormalized,
    Boolean,
    String,
    StringList,
    Count,
    DurationMs,
    Object,
}

impl ClaimType {
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimType::ScoreNormalized => "score_normalized",
            ClaimType::Boolean => "boolean",
            ClaimType::String => "string",
            ClaimType::StringList => "string_list",
            ClaimType::Count => "count",
            ClaimType::DurationMs => "duration_ms",
            ClaimType::Object => "object",
        }
    }
}

impl std::fmt::Display for ClaimType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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

/// A claim's value, already checked (scores in range, objects parsed).
#[derive(Debug, Clone, PartialEq)]
pub enum ClaimValue {
    ScoreNormalized(f64),
    Boolean(bool),
    String(String),
    StringList(Vec<String>),
    Count(u64),
    DurationMs(u64),
    Object(Value),
}

impl ClaimValue {
    pub fn claim_type(&self) -> ClaimType {
        match self {
            ClaimValue::ScoreNormalized(_) => ClaimType::ScoreNormalized,
            ClaimValue::Boolean(_) => ClaimType::Boolean,
            ClaimValue::String(_) => ClaimType::String,
            ClaimValue::StringList(_) => ClaimType::StringList,
            ClaimValue::Count(_) => ClaimType::Count,
            ClaimValue::DurationMs(_) => ClaimType::DurationMs,
            ClaimValue::Object(_) => ClaimType::Object,
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            ClaimValue::ScoreNormalized(v) => Value::from(*v),
            ClaimValue::Boolean(v) => Value::from(*v),
            ClaimValue::String(v) => Value::from(v.as_str()),
            ClaimValue::StringList(v) => Value::from(v.clone()),
            ClaimValue::Count(v) | ClaimValue::DurationMs(v) => Value::from(*v),
            ClaimValue::Object(v) => v.clone(),
        }
    }
}

/// A claim as the host records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub name: String,
    pub value: ClaimValue,
    pub confidence: f64,
    pub metadata: Option<Value>,
}

impl Claim {
    /// The JSON form used in CLI output and evidence:
    /// `{"name","type","value","confidence","metadata"}`.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "name": self.name,
            "type": self.value.claim_type(),
            "value": self.value.to_json(),
            "confidence": self.confidence,
            "metadata": self.metadata,
        })
    }

    /// Rough size of the claim in bytes, used to enforce the claims-size cap.
    pub fn approx_size(&self) -> usize {
        let value = match &self.value {
            ClaimValue::String(s) => s.len(),
            ClaimValue::StringList(l) => l.iter().map(|s| s.len() + 8).sum(),
            ClaimValue::Object(v) => v.to_string().len(),
            _ => 8,
        };
        self.name.len() + value + self.metadata.as_ref().map_or(0, |m| m.to_string().len()) + 32
    }
}

impl Serialize for Claim {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

/// Why a claim returned by a guest breaks its contract.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClaimError {
    #[error("claim '{0}' is not declared in the auditor's vocabulary")]
    Undeclared(String),
    #[error("claim '{name}' is declared as {declared} but the auditor returned a {returned}")]
    WrongType {
        name: String,
        declared: ClaimType,
        returned: ClaimType,
    },
    #[error("claim '{name}' may not be emitted in the {phase} phase")]
    WrongPhase { name: String, phase: Phase },
    #[error("claim '{name}' has score {value}, expected a number in 0.0..=1.0")]
    ScoreOutOfRange { name: String, value: f64 },
    #[error("claim '{name}' has confidence {value}, expected a number in 0.0..=1.0")]
    ConfidenceOutOfRange { name: String, value: f64 },
    #[error("claim '{name}' has an object value that is not valid JSON: {reason}")]
    BadObject { name: String, reason: String },
    #[error("claim '{name}' has metadata that is not valid JSON: {reason}")]
    BadMetadata { name: String, reason: String },
    #[error("claim '{0}' is emitted twice in one observation")]
    Duplicate(String),
}

fn unit_interval(v: f64) -> bool {
    (0.0..=1.0).contains(&v)
}

/// Check a raw guest claim and turn it into a host claim. `declared` gives the declared type
/// and phases of the claim's name, if any.
pub fn check_claim(
    raw: wit::Claim,
    phase: Phase,
    declared: impl Fn(&str) -> Option<(ClaimType, Vec<Phase>)>,
) -> Result<Claim, ClaimError> {
    let name = raw.name;
    let Some((declared_type, phases)) = declared(&name) else {
        return Err(ClaimError::Undeclared(name));
    };
    let value = match raw.value {
        wit::ClaimValue::ScoreNormalized(v) => {
            if !unit_interval(v) {
                return Err(ClaimError::ScoreOutOfRange { name, value: v });
            }
            ClaimValue::ScoreNormalized(v)
        }
        wit::ClaimValue::Boolean(v) => ClaimValue::Boolean(v),
        wit::ClaimValue::String(v) => ClaimValue::String(v),
        wit::ClaimValue::StringList(v) => ClaimValue::StringList(v),
        wit::ClaimValue::Count(v) => ClaimValue::Count(v),
        wit::ClaimValue::DurationMs(v) => ClaimValue::DurationMs(v),
        wit::ClaimValue::Object(text) => match serde_json::from_str(&text) {
            Ok(v) => ClaimValue::Object(v),
            Err(e) => {
                return Err(ClaimError::BadObject {
                    name,
                    reason: e.to_string(),
                });
            }
        },
    };
    if value.claim_type() != declared_type {
        return Err(ClaimError::WrongType {
            name,
            declared: declared_type,
            returned: value.claim_type(),
        });
    }
    if !phases.contains(&phase) {
        return Err(ClaimError::WrongPhase { name, phase });
    }
    if !unit_interval(raw.confidence) {
        return Err(ClaimError::ConfidenceOutOfRange {
            name,
            value: raw.confidence,
        });
    }
    let metadata = match raw.metadata {
        None => None,
        Some(text) => match serde_json::from_str(&text) {
            Ok(v) => Some(v),
            Err(e) => {
                return Err(ClaimError::BadMetadata {
                    name,
                    reason: e.to_string(),
                });
            }
        },
    };
    Ok(Claim {
        name,
        value,
        confidence: raw.confidence,
        metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(name: &str, value: wit::ClaimValue) -> wit::Claim {
        wit::Claim {
            name: name.into(),
            value,
            confidence: 1.0,
            metadata: None,
        }
    }

    fn declared(name: &str) -> Option<(ClaimType, Vec<Phase>)> {
        match name {
            "risk" => Some((ClaimType::ScoreNormalized, vec![Phase::Request])),
            "obj" => Some((ClaimType::Object, vec![Phase::Request])),
            _ => None,
        }
    }

    #[test]
    fn accepts_a_declared_claim() {
        let c = check_claim(
            raw("risk", wit::ClaimValue::ScoreNormalized(0.25)),
            Phase::Request,
            declared,
        )
        .unwrap();
        assert_eq!(c.to_json()["type"], "score_normalized");
        assert_eq!(c.to_json()["value"], 0.25);
    }

    #[test]
    fn rejects_contract_violations() {
        let cases = [
            (raw("nope", wit::ClaimValue::Boolean(true)), Phase::Request),
            (raw("risk", wit::ClaimValue::Boolean(true)), Phase::Request),
            (
                raw("risk", wit::ClaimValue::ScoreNormalized(1.5)),
                Phase::Request,
            ),
            (
                raw("risk", wit::ClaimValue::ScoreNormalized(f64::NAN)),
                Phase::Request,
            ),
            (
                raw("risk", wit::ClaimValue::ScoreNormalized(0.5)),
                Phase::Response,
            ),
            (
                raw("obj", wit::ClaimValue::Object("{not json".into())),
                Phase::Request,
            ),
        ];
        for (claim, phase) in cases {
            let name = claim.name.clone();
            assert!(
                check_claim(claim, phase, declared).is_err(),
                "{name} in {phase} should be rejected"
            );
        }
    }

    #[test]
    fn rejects_bad_confidence() {
        let mut c = raw("risk", wit::ClaimValue::ScoreNormalized(0.5));
        c.confidence = -0.1;
        assert!(matches!(
            check_claim(c, Phase::Request, declared),
            Err(ClaimError::ConfidenceOutOfRange { .. })
        ));
    }

    #[test]
    fn phase_round_trips_through_its_name() {
        for p in Phase::ALL {
            assert_eq!(p.as_str().parse::<Phase>().unwrap(), p);
        }
        assert!("later".parse::<Phase>().is_err());
    }
}
