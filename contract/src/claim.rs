//! Claims: the typed observations auditors make about one phase of an exchange.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{MAX_SAFE_INTEGER, Span, UnknownName};

/// The seven claim types an auditor may declare. The snake_case names ([`ClaimType::as_str`])
/// are a public contract: vocabularies, receipts, policies and the WIT `claim-type` enum use
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimType {
    /// A number in `0.0..=1.0` (a risk, a likelihood).
    ScoreNormalized,
    /// `true` or `false`.
    Boolean,
    /// Any string.
    String,
    /// A list of strings.
    StringList,
    /// A non-negative integer up to [`MAX_SAFE_INTEGER`].
    Count,
    /// A duration in milliseconds, up to [`MAX_SAFE_INTEGER`].
    DurationMs,
    /// Any JSON document. Objects are recorded in receipts but not exposed to policies: their
    /// shape is the auditor's business.
    Object,
}

impl ClaimType {
    /// Every claim type, in the order of the WIT `claim-type` enum.
    pub const ALL: [ClaimType; 7] = [
        ClaimType::ScoreNormalized,
        ClaimType::Boolean,
        ClaimType::String,
        ClaimType::StringList,
        ClaimType::Count,
        ClaimType::DurationMs,
        ClaimType::Object,
    ];

    /// The type's name: `score_normalized`, `boolean`, `string`, `string_list`, `count`,
    /// `duration_ms` or `object`.
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

impl fmt::Display for ClaimType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ClaimType {
    type Err = UnknownName;

    /// Reads a claim type from its name ([`ClaimType::as_str`]).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ClaimType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                UnknownName::new(
                    "claim type",
                    s,
                    "one of score_normalized, boolean, string, string_list, count, duration_ms, object",
                )
            })
    }
}

/// A claim's value; the case decides the claim's type, which must match the type the auditor
/// declared. In JSON the type and the bare value side by side:
/// `{"type": "count", "value": 3}`, `{"type": "score_normalized", "value": 0.25}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum ClaimValue {
    /// A score in `0.0..=1.0` ([`Claim::score`] clamps it there).
    ScoreNormalized(f64),
    Boolean(bool),
    String(String),
    StringList(Vec<String>),
    /// A count, at most [`MAX_SAFE_INTEGER`].
    Count(u64),
    /// A duration in milliseconds, at most [`MAX_SAFE_INTEGER`].
    DurationMs(u64),
    /// Any JSON document.
    Object(Value),
}

impl ClaimValue {
    /// The type of the value.
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

    /// The bare JSON value, without its type: a score is a number, a string list an array and
    /// an object the document itself.
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

    /// Checks that the value lies in its type's domain: a score is a number in `0.0..=1.0`
    /// (not NaN); a count or a duration is at most [`MAX_SAFE_INTEGER`]; an object holds no
    /// integer outside ±[`MAX_SAFE_INTEGER`] (an AttestationResult could not carry it).
    pub fn check_domain(&self) -> Result<(), DomainError> {
        match self {
            ClaimValue::ScoreNormalized(value) if !unit_interval(*value) => {
                Err(DomainError::Score {
                    claim: None,
                    value: *value,
                })
            }
            ClaimValue::Count(value) | ClaimValue::DurationMs(value)
                if *value > MAX_SAFE_INTEGER =>
            {
                Err(DomainError::UnsafeInteger {
                    claim: None,
                    claim_type: self.claim_type(),
                    value: *value,
                })
            }
            ClaimValue::Object(document) => {
                match unsafe_integer(document, &JsonPath::Root("value")) {
                    Some(path) => Err(DomainError::UnsafeJsonInteger { claim: None, path }),
                    None => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }
}

/// One observation an auditor makes about one phase of an exchange.
///
/// Its JSON form, used by the CLI, the evidence and the policy engine, is
/// `{"name", "type", "value", "confidence", "metadata"}` (`metadata` is `null` when there is
/// none). Read back, `confidence` defaults to `1.0`, `metadata` to none, and other fields (a
/// receipt's `auditor`, `auditor_sha256`) are ignored.
///
/// ```
/// use lucid_contract::Claim;
/// use serde_json::json;
///
/// let claim = Claim::score("injection_risk", 0.05)
///     .with_confidence(0.9)
///     .with_metadata(json!({ "rules": [] }));
/// assert_eq!(claim.name(), "injection_risk");
/// assert_eq!(claim.to_json()["type"], "score_normalized");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// The claim's name, declared in the auditor's vocabulary. Names starting with `lucid.`
    /// belong to the host.
    pub name: String,
    /// The value, and with it the claim's type.
    #[serde(flatten)]
    pub value: ClaimValue,
    /// How sure the auditor is, in `0.0..=1.0`.
    #[serde(default = "full_confidence")]
    pub confidence: f64,
    /// Details for the evidence (matched rules, offsets...). Never the sensitive content
    /// itself: metadata ends up in receipts.
    #[serde(default)]
    pub metadata: Option<Value>,
    /// Spans of the observed text the claim is about, which a policy may ask to mask (see
    /// [`Span`]). Left out of the JSON form when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spans: Vec<Span>,
}

impl Claim {
    /// A claim with any value, full confidence and no metadata. A score is clamped to
    /// `0.0..=1.0` and NaN becomes `0.0`, so an auditor never hands the host a value it must
    /// reject.
    pub fn new(name: impl Into<String>, value: ClaimValue) -> Self {
        let value = match value {
            ClaimValue::ScoreNormalized(score) => ClaimValue::ScoreNormalized(clamp_unit(score)),
            other => other,
        };
        Claim {
            name: name.into(),
            value,
            confidence: 1.0,
            metadata: None,
            spans: Vec::new(),
        }
    }

    /// A `score_normalized` claim. The score is clamped to `0.0..=1.0`; NaN becomes `0.0`.
    pub fn score(name: impl Into<String>, score: f64) -> Self {
        Claim::new(name, ClaimValue::ScoreNormalized(score))
    }

    /// A `boolean` claim.
    pub fn boolean(name: impl Into<String>, value: bool) -> Self {
        Claim::new(name, ClaimValue::Boolean(value))
    }

    /// A `string` claim.
    pub fn string(name: impl Into<String>, value: impl Into<String>) -> Self {
        Claim::new(name, ClaimValue::String(value.into()))
    }

    /// A `string_list` claim.
    pub fn string_list<I, S>(name: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Claim::new(
            name,
            ClaimValue::StringList(values.into_iter().map(Into::into).collect()),
        )
    }

    /// A `count` claim.
    pub fn count(name: impl Into<String>, value: u64) -> Self {
        Claim::new(name, ClaimValue::Count(value))
    }

    /// A `duration_ms` claim.
    pub fn duration_ms(name: impl Into<String>, value: u64) -> Self {
        Claim::new(name, ClaimValue::DurationMs(value))
    }

    /// An `object` claim: any JSON document.
    pub fn object(name: impl Into<String>, value: Value) -> Self {
        Claim::new(name, ClaimValue::Object(value))
    }

    /// How sure the auditor is; clamped to `0.0..=1.0` like scores. Defaults to `1.0`.
    pub fn with_confidence(mut self, confidence: f64) -> Self {
        self.confidence = clamp_unit(confidence);
        self
    }

    /// Details for the evidence (matched rules, counts...). Never put the sensitive content
    /// itself here: metadata ends up in receipts.
    pub fn with_metadata(mut self, metadata: Value) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Adds a span of the observed text this claim is about, which a policy may ask the host to
    /// mask (`lucid:auditor` 0.2.0). The guest SDK locates spans in the request and response
    /// (`Input::message_spans` and the like).
    pub fn with_span(mut self, span: Span) -> Self {
        self.spans.push(span);
        self
    }

    /// Adds spans (see [`Claim::with_span`]).
    pub fn with_spans(mut self, spans: impl IntoIterator<Item = Span>) -> Self {
        self.spans.extend(spans);
        self
    }

    /// The spans the claim is about.
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// The claim's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The claim's value.
    pub fn value(&self) -> &ClaimValue {
        &self.value
    }

    /// How sure the auditor is, in `0.0..=1.0`.
    pub fn confidence(&self) -> f64 {
        self.confidence
    }

    /// The claim's metadata, if any.
    pub fn metadata(&self) -> Option<&Value> {
        self.metadata.as_ref()
    }

    /// The value if this is a `score_normalized` claim.
    pub fn as_score(&self) -> Option<f64> {
        match self.value {
            ClaimValue::ScoreNormalized(score) => Some(score),
            _ => None,
        }
    }

    /// The value if this is a `boolean` claim.
    pub fn as_boolean(&self) -> Option<bool> {
        match self.value {
            ClaimValue::Boolean(value) => Some(value),
            _ => None,
        }
    }

    /// The value if this is a `count` claim.
    pub fn as_count(&self) -> Option<u64> {
        match self.value {
            ClaimValue::Count(value) => Some(value),
            _ => None,
        }
    }

    /// The values if this is a `string_list` claim.
    pub fn as_string_list(&self) -> Option<&[String]> {
        match &self.value {
            ClaimValue::StringList(values) => Some(values),
            _ => None,
        }
    }

    /// The JSON form, `{"name", "type", "value", "confidence", "metadata"}` and `"spans"` when
    /// there are any, the same as the serde form.
    pub fn to_json(&self) -> Value {
        let mut json = Map::new();
        json.insert("name".into(), Value::from(self.name.as_str()));
        json.insert("type".into(), Value::from(self.value.claim_type().as_str()));
        json.insert("value".into(), self.value.to_json());
        json.insert("confidence".into(), Value::from(self.confidence));
        json.insert(
            "metadata".into(),
            self.metadata.clone().unwrap_or(Value::Null),
        );
        if !self.spans.is_empty() {
            json.insert(
                "spans".into(),
                serde_json::to_value(&self.spans).unwrap_or(Value::Null),
            );
        }
        Value::Object(json)
    }

    /// Checks the value's domain ([`ClaimValue::check_domain`]), that the confidence is a number
    /// in `0.0..=1.0`, and that the metadata holds no integer outside ±[`MAX_SAFE_INTEGER`].
    /// Errors name the claim.
    pub fn check_domain(&self) -> Result<(), DomainError> {
        self.value
            .check_domain()
            .map_err(|error| error.for_claim(&self.name))?;
        if !unit_interval(self.confidence) {
            return Err(DomainError::Confidence {
                claim: self.name.clone(),
                value: self.confidence,
            });
        }
        if let Some(path) = self
            .metadata
            .as_ref()
            .and_then(|metadata| unsafe_integer(metadata, &JsonPath::Root("metadata")))
        {
            return Err(DomainError::UnsafeJsonInteger {
                claim: Some(self.name.clone()),
                path,
            });
        }
        Ok(())
    }
}

/// Why a claim, or a claim value, lies outside the contract's domain. `claim` names the claim;
/// it is `None` only for errors of [`ClaimValue::check_domain`], which knows no name.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DomainError {
    /// A `score_normalized` value that is NaN or outside `0.0..=1.0`.
    #[error("{} has score {value}, expected a number in 0.0..=1.0", Subject(.claim))]
    Score { claim: Option<String>, value: f64 },
    /// A `count` or `duration_ms` value above [`MAX_SAFE_INTEGER`].
    #[error(
        "{} has {claim_type} {value}, above the largest safe integer 2^53-1",
        Subject(.claim)
    )]
    UnsafeInteger {
        claim: Option<String>,
        claim_type: ClaimType,
        value: u64,
    },
    /// An integer outside ±[`MAX_SAFE_INTEGER`] in an object value or in the metadata; `path`
    /// says where (`value.hits[2].offset`, `metadata.total`).
    #[error("{} has an integer outside ±(2^53-1) at {path}", Subject(.claim))]
    UnsafeJsonInteger { claim: Option<String>, path: String },
    /// A confidence that is NaN or outside `0.0..=1.0`.
    #[error("claim '{claim}' has confidence {value}, expected a number in 0.0..=1.0")]
    Confidence { claim: String, value: f64 },
}

impl DomainError {
    fn for_claim(self, name: &str) -> Self {
        let named = Some(name.to_owned());
        match self {
            DomainError::Score { value, .. } => DomainError::Score {
                claim: named,
                value,
            },
            DomainError::UnsafeInteger {
                claim_type, value, ..
            } => DomainError::UnsafeInteger {
                claim: named,
                claim_type,
                value,
            },
            DomainError::UnsafeJsonInteger { path, .. } => {
                DomainError::UnsafeJsonInteger { claim: named, path }
            }
            confidence @ DomainError::Confidence { .. } => confidence,
        }
    }
}

/// The subject of a domain error's message: the claim when it is known.
struct Subject<'a>(&'a Option<String>);

impl fmt::Display for Subject<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(name) => write!(f, "claim '{name}'"),
            None => f.write_str("the claim value"),
        }
    }
}

fn full_confidence() -> f64 {
    1.0
}

/// `value` is a number in `0.0..=1.0` (NaN is not).
fn unit_interval(value: f64) -> bool {
    (0.0..=1.0).contains(&value)
}

fn clamp_unit(value: f64) -> f64 {
    if value.is_nan() {
        0.0
    } else {
        value.clamp(0.0, 1.0)
    }
}

/// Where a number is in a JSON document, spelled only when an error needs it.
enum JsonPath<'a> {
    Root(&'a str),
    Field(&'a JsonPath<'a>, &'a str),
    Index(&'a JsonPath<'a>, usize),
}

impl fmt::Display for JsonPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonPath::Root(name) => f.write_str(name),
            JsonPath::Field(parent, name) => write!(f, "{parent}.{name}"),
            JsonPath::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// The path of the first integer outside ±[`MAX_SAFE_INTEGER`] in `value`, if any. Floats are
/// fine: JSON implementations agree on them; large integers are where they disagree.
fn unsafe_integer(value: &Value, at: &JsonPath<'_>) -> Option<String> {
    match value {
        Value::Number(n) => {
            let safe = if let Some(u) = n.as_u64() {
                u <= MAX_SAFE_INTEGER
            } else if let Some(i) = n.as_i64() {
                i.unsigned_abs() <= MAX_SAFE_INTEGER
            } else {
                true
            };
            (!safe).then(|| at.to_string())
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| unsafe_integer(v, &JsonPath::Index(at, i))),
        Value::Object(map) => map
            .iter()
            .find_map(|(k, v)| unsafe_integer(v, &JsonPath::Field(at, k))),
        Value::Null | Value::Bool(_) | Value::String(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn claim_type_round_trips_through_its_name() {
        for t in ClaimType::ALL {
            assert_eq!(t.as_str().parse::<ClaimType>().unwrap(), t);
            assert_eq!(t.to_string(), t.as_str());
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
            assert_eq!(
                serde_json::from_value::<ClaimType>(t.as_str().into()).unwrap(),
                t
            );
        }
        let err = "score".parse::<ClaimType>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown claim type 'score' (expected one of score_normalized, boolean, string, \
             string_list, count, duration_ms, object)"
        );
        assert_eq!(err.kind(), "claim type");
    }

    #[test]
    fn claim_values_are_adjacently_tagged() {
        let cases = [
            (
                ClaimValue::ScoreNormalized(0.25),
                json!({"type": "score_normalized", "value": 0.25}),
            ),
            (
                ClaimValue::Boolean(true),
                json!({"type": "boolean", "value": true}),
            ),
            (
                ClaimValue::String("x".into()),
                json!({"type": "string", "value": "x"}),
            ),
            (
                ClaimValue::StringList(vec!["a".into(), "b".into()]),
                json!({"type": "string_list", "value": ["a", "b"]}),
            ),
            (ClaimValue::Count(3), json!({"type": "count", "value": 3})),
            (
                ClaimValue::DurationMs(12),
                json!({"type": "duration_ms", "value": 12}),
            ),
            (
                ClaimValue::Object(json!({"k": [1, null]})),
                json!({"type": "object", "value": {"k": [1, null]}}),
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(serde_json::to_value(&value).unwrap(), expected);
            assert_eq!(value.to_json(), expected["value"]);
            assert_eq!(expected["type"], value.claim_type().as_str());
            assert_eq!(
                serde_json::from_value::<ClaimValue>(expected).unwrap(),
                value
            );
        }
        let wrong = json!({"type": "count", "value": -1});
        assert!(serde_json::from_value::<ClaimValue>(wrong).is_err());
    }

    #[test]
    fn claims_have_one_json_form() {
        let plain = Claim::count("pii_count", 2);
        let expected = json!({
            "name": "pii_count",
            "type": "count",
            "value": 2,
            "confidence": 1.0,
            "metadata": null,
        });
        assert_eq!(plain.to_json(), expected);
        assert_eq!(serde_json::to_value(&plain).unwrap(), expected);
        assert_eq!(serde_json::from_value::<Claim>(expected).unwrap(), plain);

        let rich = Claim::score("risk", 0.5)
            .with_confidence(0.75)
            .with_metadata(json!({"rules": ["r1"]}));
        let expected = json!({
            "name": "risk",
            "type": "score_normalized",
            "value": 0.5,
            "confidence": 0.75,
            "metadata": {"rules": ["r1"]},
        });
        assert_eq!(rich.to_json(), expected);
        assert_eq!(serde_json::to_value(&rich).unwrap(), expected);
        assert_eq!(serde_json::from_value::<Claim>(expected).unwrap(), rich);
    }

    #[test]
    fn claims_read_back_with_defaults_and_ignore_other_fields() {
        let minimal = json!({"name": "pii_count", "type": "count", "value": 2});
        assert_eq!(
            serde_json::from_value::<Claim>(minimal).unwrap(),
            Claim::count("pii_count", 2)
        );
        let from_receipt = json!({
            "auditor": "pii",
            "auditor_sha256": "00",
            "name": "flag",
            "type": "boolean",
            "value": true,
            "confidence": 1,
        });
        assert_eq!(
            serde_json::from_value::<Claim>(from_receipt).unwrap(),
            Claim::boolean("flag", true)
        );
        for bad in [
            json!({"name": "x", "type": "count", "value": "2"}),
            json!({"name": "x", "type": "score", "value": 0.5}),
            json!({"name": "x", "type": "count"}),
            json!({"type": "count", "value": 2}),
        ] {
            assert!(
                serde_json::from_value::<Claim>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn scores_and_confidences_are_clamped() {
        assert_eq!(Claim::score("s", 1.5).as_score(), Some(1.0));
        assert_eq!(Claim::score("s", -0.1).as_score(), Some(0.0));
        assert_eq!(Claim::score("s", f64::NAN).as_score(), Some(0.0));
        assert_eq!(Claim::score("s", 0.05).as_score(), Some(0.05));
        assert_eq!(
            Claim::new("s", ClaimValue::ScoreNormalized(7.0)).as_score(),
            Some(1.0)
        );
        assert_eq!(
            Claim::boolean("b", true).with_confidence(2.0).confidence(),
            1.0
        );
        assert_eq!(
            Claim::boolean("b", true)
                .with_confidence(f64::NAN)
                .confidence(),
            0.0
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
            Claim::string_list("a", ["x", "y"]).as_string_list(),
            Some(&["x".to_owned(), "y".to_owned()][..])
        );
        assert_eq!(Claim::count("a", 3).as_count(), Some(3));
        assert_eq!(Claim::boolean("a", true).as_boolean(), Some(true));
        assert_eq!(Claim::boolean("a", true).as_count(), None);
        assert_eq!(
            Claim::duration_ms("a", 3).value().claim_type(),
            ClaimType::DurationMs
        );
        assert_eq!(
            Claim::object("a", Value::Null).value().claim_type(),
            ClaimType::Object
        );
        assert_eq!(Claim::object("a", Value::Null).metadata(), None);
    }

    #[test]
    fn integers_up_to_2_pow_53_minus_1_are_in_the_domain() {
        Claim::count("c", MAX_SAFE_INTEGER).check_domain().unwrap();
        Claim::duration_ms("d", MAX_SAFE_INTEGER)
            .check_domain()
            .unwrap();
        let err = Claim::count("x", MAX_SAFE_INTEGER + 1)
            .check_domain()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "claim 'x' has count 9007199254740992, above the largest safe integer 2^53-1"
        );
        let err = ClaimValue::DurationMs(u64::MAX).check_domain().unwrap_err();
        assert!(matches!(
            err,
            DomainError::UnsafeInteger {
                claim: None,
                claim_type: ClaimType::DurationMs,
                value: u64::MAX
            }
        ));
    }

    #[test]
    fn scores_and_confidences_outside_0_to_1_are_not() {
        for score in [1.5, -0.1, f64::NAN, f64::INFINITY] {
            let claim = Claim {
                value: ClaimValue::ScoreNormalized(score),
                ..Claim::score("risk", 0.0)
            };
            let err = claim.check_domain().unwrap_err();
            assert!(
                matches!(&err, DomainError::Score { claim: Some(name), .. } if name == "risk"),
                "{err}"
            );
            assert!(ClaimValue::ScoreNormalized(score).check_domain().is_err());
        }
        let err = ClaimValue::ScoreNormalized(1.5).check_domain().unwrap_err();
        assert_eq!(
            err.to_string(),
            "the claim value has score 1.5, expected a number in 0.0..=1.0"
        );
        Claim::score("risk", 1.0).check_domain().unwrap();
        Claim::score("risk", 0.0).check_domain().unwrap();

        for confidence in [-0.1, 1.01, f64::NAN] {
            let claim = Claim {
                confidence,
                ..Claim::boolean("flag", true)
            };
            assert!(matches!(
                claim.check_domain(),
                Err(DomainError::Confidence { .. })
            ));
        }
        let claim = Claim {
            confidence: 1.5,
            ..Claim::boolean("flag", true)
        };
        assert_eq!(
            claim.check_domain().unwrap_err().to_string(),
            "claim 'flag' has confidence 1.5, expected a number in 0.0..=1.0"
        );
    }

    #[test]
    fn objects_and_metadata_hold_only_safe_integers() {
        let big = MAX_SAFE_INTEGER + 1;
        Claim::object(
            "o",
            json!({"a": [MAX_SAFE_INTEGER, -9007199254740991_i64, 1e300]}),
        )
        .with_metadata(json!({"n": 1}))
        .check_domain()
        .unwrap();
        let err = Claim::object("o", json!({"a": [1, {"b": big}]}))
            .check_domain()
            .unwrap_err();
        assert_eq!(
            err,
            DomainError::UnsafeJsonInteger {
                claim: Some("o".into()),
                path: "value.a[1].b".into()
            }
        );
        let err = Claim::boolean("b", true)
            .with_metadata(json!({"offsets": [-9007199254740992_i64]}))
            .check_domain()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "claim 'b' has an integer outside ±(2^53-1) at metadata.offsets[0]"
        );
    }
}
