//! Claims as the host accepts them: a guest's raw claim checked against the auditor's
//! vocabulary and the contract's domain ([`check_claim`]). The types are the contract's.

use crate::runtime::bindings::wit;

pub use lucid_contract::{Claim, ClaimType, ClaimValue, DomainError, Phase, Span, SpanError};

/// Size of a claim in bytes of JSON (on the high side), used to enforce the claims-size caps.
pub fn approx_size(claim: &Claim) -> usize {
    let value = match &claim.value {
        ClaimValue::String(s) => json_len(s),
        ClaimValue::StringList(l) => l.iter().map(|s| json_len(s) + 1).sum(),
        ClaimValue::Object(v) => v.to_string().len(),
        _ => 8,
    };
    json_len(&claim.name)
        + value
        + claim.metadata.as_ref().map_or(0, |m| m.to_string().len())
        + spans_size(claim)
        + 32
}

/// Bytes a claim's spans take (an estimate, on the high side). They bound a guest's output, but
/// they are not part of receipts (the masks applied are, in `redactions`).
pub fn spans_size(claim: &Claim) -> usize {
    claim
        .spans
        .iter()
        .map(|s| {
            json_len(&s.field) + json_len(&s.kind) + s.label.as_deref().map_or(0, json_len) + 64
        })
        .sum()
}

/// Length of `s` as a JSON string: escaped control characters take up to six bytes each.
fn json_len(s: &str) -> usize {
    let escaped = s
        .bytes()
        .filter(|b| *b < 0x20 || *b == b'"' || *b == b'\\')
        .count();
    s.len() + 5 * escaped + 2
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
    #[error("claim '{name}' has an invalid span: {error}")]
    BadSpan { name: String, error: SpanError },
    #[error(
        "claim '{name}' has spans in the {phase} phase; spans may only be proposed in the request and response phases"
    )]
    SpanPhase { name: String, phase: Phase },
    /// A value outside the receipt's domain (say, a count above 2^53−1): it could not be signed.
    #[error(transparent)]
    Domain(#[from] DomainError),
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
        wit::ClaimValue::Object(text) => match parse_bounded(&text) {
            Ok(v) => ClaimValue::Object(v),
            Err(reason) => return Err(ClaimError::BadObject { name, reason }),
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
        Some(text) => match parse_bounded(&text) {
            Ok(v) => Some(v),
            Err(reason) => return Err(ClaimError::BadMetadata { name, reason }),
        },
    };
    if !raw.spans.is_empty() && !matches!(phase, Phase::Request | Phase::Response) {
        return Err(ClaimError::SpanPhase { name, phase });
    }
    if raw.spans.len() > lucid_contract::MAX_SPANS_PER_CLAIM {
        return Err(ClaimError::BadSpan {
            name,
            error: SpanError::TooMany,
        });
    }
    let mut spans = Vec::with_capacity(raw.spans.len());
    for s in raw.spans {
        let span = Span {
            field: s.field,
            start: s.start,
            end: s.end,
            kind: s.kind,
            label: s.label,
        };
        if let Err(error) = span.check() {
            return Err(ClaimError::BadSpan { name, error });
        }
        spans.push(span);
    }
    let claim = Claim {
        name,
        value,
        confidence: raw.confidence,
        metadata,
        spans,
    };
    claim.check_domain()?;
    Ok(claim)
}

/// Deepest nesting of a guest's JSON value: it sits some levels down in the receipt core, whose
/// every reader (the signer, verifiers, `serde_json` by default) stops at 128 levels.
pub const MAX_JSON_DEPTH: usize = 64;

/// Parse a guest's JSON text, refusing values nested deeper than [`MAX_JSON_DEPTH`].
fn parse_bounded(text: &str) -> Result<serde_json::Value, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut stack = vec![(&value, 1usize)];
    while let Some((v, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &serde_json::Value>> = match v {
            serde_json::Value::Array(items) => Box::new(items.iter()),
            serde_json::Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        if depth > MAX_JSON_DEPTH {
            return Err(format!("nested deeper than {MAX_JSON_DEPTH} levels"));
        }
        stack.extend(children.map(|c| (c, depth + 1)));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_nested_past_the_limit_is_refused() {
        let nest = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        let ok = check_claim(
            raw("obj", wit::ClaimValue::Object(nest(MAX_JSON_DEPTH))),
            Phase::Request,
            declared,
        );
        assert!(ok.is_ok(), "{ok:?}");
        let deep = check_claim(
            raw("obj", wit::ClaimValue::Object(nest(MAX_JSON_DEPTH + 1))),
            Phase::Request,
            declared,
        )
        .unwrap_err();
        assert!(deep.to_string().contains("deeper than 64"), "{deep}");
        let mut meta = raw("risk", wit::ClaimValue::ScoreNormalized(0.5));
        meta.metadata = Some(format!("{{\"a\": {}}}", nest(100)));
        let deep = check_claim(meta, Phase::Request, declared).unwrap_err();
        assert!(deep.to_string().contains("deeper than 64"), "{deep}");
    }

    fn raw(name: &str, value: wit::ClaimValue) -> wit::Claim {
        wit::Claim {
            name: name.into(),
            value,
            confidence: 1.0,
            metadata: None,
            spans: Vec::new(),
        }
    }

    fn span(field: &str, start: u32, end: u32, kind: &str) -> wit::Span {
        wit::Span {
            field: field.into(),
            start,
            end,
            kind: kind.into(),
            label: None,
        }
    }

    #[test]
    fn spans_are_checked_and_kept() {
        let mut c = raw("n", wit::ClaimValue::Count(1));
        c.spans = vec![span("/messages/0/content", 3, 9, "email")];
        let claim = check_claim(c.clone(), Phase::Request, declared).unwrap();
        assert_eq!(claim.spans.len(), 1);
        assert_eq!(claim.to_json()["spans"][0]["kind"], "email");

        let mut bad = c.clone();
        bad.spans[0].end = 3;
        let err = check_claim(bad, Phase::Request, declared).unwrap_err();
        assert!(matches!(err, ClaimError::BadSpan { .. }), "{err}");
        let mut bad = c.clone();
        bad.spans[0].label = Some("\"}".into());
        assert!(check_claim(bad, Phase::Request, declared).is_err());
        let mut many = c.clone();
        many.spans = vec![span("/m", 0, 1, "x"); lucid_contract::MAX_SPANS_PER_CLAIM + 1];
        let err = check_claim(many, Phase::Request, declared).unwrap_err();
        assert!(err.to_string().contains("more than 4096 spans"), "{err}");
    }

    #[test]
    fn spans_outside_request_and_response_are_refused() {
        let declared_all =
            |_: &str| Some((ClaimType::Count, vec![Phase::Artifact, Phase::Execution]));
        for phase in [Phase::Artifact, Phase::Execution] {
            let mut c = raw("n", wit::ClaimValue::Count(1));
            c.spans = vec![span("/m", 0, 1, "x")];
            let err = check_claim(c, phase, declared_all).unwrap_err();
            assert!(matches!(err, ClaimError::SpanPhase { .. }), "{err}");
        }
    }

    fn declared(name: &str) -> Option<(ClaimType, Vec<Phase>)> {
        match name {
            "risk" => Some((ClaimType::ScoreNormalized, vec![Phase::Request])),
            "obj" => Some((ClaimType::Object, vec![Phase::Request])),
            "n" => Some((ClaimType::Count, vec![Phase::Request])),
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
    fn rejects_values_outside_the_receipt_domain() {
        let max = lucid_contract::MAX_SAFE_INTEGER;
        assert!(
            check_claim(
                raw("n", wit::ClaimValue::Count(max)),
                Phase::Request,
                declared
            )
            .is_ok()
        );
        assert!(matches!(
            check_claim(
                raw("n", wit::ClaimValue::Count(max + 1)),
                Phase::Request,
                declared
            ),
            Err(ClaimError::Domain(_))
        ));
        let big = format!("{{\"n\": {}}}", max + 1);
        assert!(matches!(
            check_claim(
                raw("obj", wit::ClaimValue::Object(big)),
                Phase::Request,
                declared
            ),
            Err(ClaimError::Domain(_))
        ));
    }
}
