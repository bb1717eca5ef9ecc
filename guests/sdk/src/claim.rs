//! Claims: the observations an auditor reports about one phase of an exchange.

use serde_json::Value;

use crate::vocabulary::ClaimType;

/// A claim's value. The case decides the claim's type, which must match the vocabulary.
#[derive(Debug, Clone, PartialEq)]
pub enum ClaimValue {
    /// Always in `0.0..=1.0` when built through [`Claim::score`].
    Score(f64),
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
            Self::Score(_) => ClaimType::ScoreNormalized,
            Self::Boolean(_) => ClaimType::Boolean,
            Self::String(_) => ClaimType::String,
            Self::StringList(_) => ClaimType::StringList,
            Self::Count(_) => ClaimType::Count,
            Self::DurationMs(_) => ClaimType::DurationMs,
            Self::Object(_) => ClaimType::Object,
        }
    }
}

/// One observation, built with the typed constructors:
///
/// ```
/// use lucid_auditor_sdk::{Claim, serde_json::json};
///
/// let claim = Claim::score("injection_risk", 0.05)
///     .with_confidence(0.9)
///     .with_metadata(json!({ "rules": [] }));
/// assert_eq!(claim.name(), "injection_risk");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    name: String,
    value: ClaimValue,
    confidence: f64,
    metadata: Option<Value>,
}

impl Claim {
    /// A claim with any value and full confidence.
    pub fn new(name: impl Into<String>, value: ClaimValue) -> Self {
        let value = match value {
            ClaimValue::Score(score) => ClaimValue::Score(unit_interval(score)),
            other => other,
        };
        Self {
            name: name.into(),
            value,
            confidence: 1.0,
            metadata: None,
        }
    }

    /// A `score_normalized` claim. The score is clamped to `0.0..=1.0`; NaN becomes `0.0`, so a
    /// guest never hands the host a value it must reject.
    pub fn score(name: impl Into<String>, score: f64) -> Self {
        Self::new(name, ClaimValue::Score(score))
    }

    pub fn boolean(name: impl Into<String>, value: bool) -> Self {
        Self::new(name, ClaimValue::Boolean(value))
    }

    pub fn string(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::new(name, ClaimValue::String(value.into()))
    }

    pub fn string_list<I, S>(name: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::new(
            name,
            ClaimValue::StringList(values.into_iter().map(Into::into).collect()),
        )
    }

    pub fn count(name: impl Into<String>, value: u64) -> Self {
        Self::new(name, ClaimValue::Count(value))
    }

    pub fn duration_ms(name: impl Into<String>, value: u64) -> Self {
        Self::new(name, ClaimValue::DurationMs(value))
    }

    /// An `object` claim: any JSON document.
    pub fn object(name: impl Into<String>, value: Value) -> Self {
        Self::new(name, ClaimValue::Object(value))
    }

    /// How sure the auditor is; clamped to `0.0..=1.0` like scores. Defaults to `1.0`.
    pub fn with_confidence(mut self, confidence: f64) -> Self {
        self.confidence = unit_interval(confidence);
        self
    }

    /// Details for the evidence (matched rules, counts...). Never put the sensitive content
    /// itself here: metadata ends up in receipts.
    pub fn with_metadata(mut self, metadata: Value) -> Self {
        self.metadata = Some(metadata);
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn value(&self) -> &ClaimValue {
        &self.value
    }

    pub fn confidence(&self) -> f64 {
        self.confidence
    }

    pub fn metadata(&self) -> Option<&Value> {
        self.metadata.as_ref()
    }

    /// The value if this is a score claim.
    pub fn as_score(&self) -> Option<f64> {
        match self.value {
            ClaimValue::Score(score) => Some(score),
            _ => None,
        }
    }

    pub fn as_boolean(&self) -> Option<bool> {
        match self.value {
            ClaimValue::Boolean(value) => Some(value),
            _ => None,
        }
    }

    pub fn as_count(&self) -> Option<u64> {
        match self.value {
            ClaimValue::Count(value) => Some(value),
            _ => None,
        }
    }

    pub fn as_string_list(&self) -> Option<&[String]> {
        match &self.value {
            ClaimValue::StringList(values) => Some(values),
            _ => None,
        }
    }

    pub(crate) fn into_parts(self) -> (String, ClaimValue, f64, Option<Value>) {
        (self.name, self.value, self.confidence, self.metadata)
    }
}

fn unit_interval(value: f64) -> f64 {
    if value.is_nan() {
        0.0
    } else {
        value.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_and_confidences_are_clamped() {
        assert_eq!(Claim::score("s", 1.5).as_score(), Some(1.0));
        assert_eq!(Claim::score("s", -0.1).as_score(), Some(0.0));
        assert_eq!(Claim::score("s", f64::NAN).as_score(), Some(0.0));
        assert_eq!(Claim::score("s", 0.05).as_score(), Some(0.05));
        assert_eq!(
            Claim::new("s", ClaimValue::Score(7.0)).as_score(),
            Some(1.0)
        );
        assert_eq!(
            Claim::boolean("b", true).with_confidence(2.0).confidence(),
            1.0
        );
        assert_eq!(Claim::boolean("b", true).confidence(), 1.0);
    }

    #[test]
    fn constructors_pick_the_claim_type() {
        assert_eq!(
            Claim::string("a", "x").value().claim_type(),
            ClaimType::String
        );
        assert_eq!(
            Claim::string_list("a", ["x", "y"]).value().claim_type(),
            ClaimType::StringList
        );
        assert_eq!(Claim::count("a", 3).value().claim_type(), ClaimType::Count);
        assert_eq!(
            Claim::duration_ms("a", 3).value().claim_type(),
            ClaimType::DurationMs
        );
        assert_eq!(
            Claim::object("a", Value::Null).value().claim_type(),
            ClaimType::Object
        );
    }
}
