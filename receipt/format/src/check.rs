//! The shape of a `lucid-ar/1` core and of the chain fields the signer adds.

use lucid_contract::{ClaimType, Phase};
use serde_json::Number;

use crate::canonical::{Canonical, phases_claims_hash};
use crate::json::{Members, Node};
use crate::{FormatError, MAX_SAFE_INTEGER, VERSION};

/// Where a field is, spelled only when an error needs it (checking allocates nothing).
#[derive(Clone, Copy)]
pub(crate) enum Path<'a> {
    Root,
    Field(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn field<'b>(&'b self, name: &'b str) -> Path<'b> {
        Path::Field(self, name)
    }

    fn index(&self, i: usize) -> Path<'_> {
        Path::Index(self, i)
    }
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Field(Path::Root, name) => f.write_str(name),
            Path::Field(parent, name) => write!(f, "{parent}.{name}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

const ROOT: Path<'static> = Path::Root;

const EFFECTS: [&str; 2] = ["allow", "deny"];

/// The chain fields of an AR, borrowed from it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChainFields<'a> {
    pub depth: u64,
    pub previous: Option<&'a str>,
    pub public_key: &'a str,
    pub splice: Option<Splice<'a>>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Splice<'a> {
    pub previous_public_key: &'a str,
    pub previous_ar_hash: &'a str,
}

/// Checks every field the host provides and returns the `claims_hash` the claims in `phases`
/// have. A `claims_hash` present in `ar` must equal it.
pub(crate) fn check_core<O, N>(ar: &O) -> Result<String, FormatError>
where
    O: Members<Node = N>,
    N: Node<Object = O> + Canonical,
{
    let version = str_field(ar, &ROOT.field("version"))?;
    if version != VERSION {
        return Err(FormatError::Version(version.to_owned()));
    }
    non_empty(ar, &ROOT.field("request_id"))?;
    if !is_rfc3339_utc(str_field(ar, &ROOT.field("timestamp"))?) {
        return Err(invalid(
            &ROOT.field("timestamp"),
            "an rfc 3339 utc timestamp (yyyy-mm-ddThh:mm:ss[.f]Z)",
        ));
    }
    let at = ROOT.field("scope");
    let scope = object_field(ar, &at)?;
    for name in ["org", "workspace", "agent"] {
        str_field(scope, &at.field(name))?;
    }

    let phases_at = ROOT.field("phases");
    let phases = array_field(ar, &phases_at)?;
    let mut any_deny = None;
    for (i, phase) in phases.iter().enumerate() {
        let at = phases_at.index(i);
        let phase = phase.as_object().ok_or_else(|| invalid(&at, "an object"))?;
        if str_field(phase, &at.field("phase"))?
            .parse::<Phase>()
            .is_err()
        {
            return Err(invalid(
                &at.field("phase"),
                "one of artifact, request, execution, response",
            ));
        }
        let claims_at = at.field("claims");
        for (j, claim) in array_field(phase, &claims_at)?.iter().enumerate() {
            check_claim(claim, &claims_at.index(j))?;
        }
        let at = at.field("decision");
        let decision = object_field(phase, &at)?;
        if effect(decision, &at.field("effect"))? == "deny" && any_deny.is_none() {
            any_deny = Some(i);
        }
        string_list(decision, &at.field("reasons"))?;
        string_list(decision, &at.field("errors"))?;
    }
    if effect(ar, &ROOT.field("decision"))? == "allow"
        && let Some(i) = any_deny
    {
        return Err(FormatError::AllowOverDeny(i));
    }
    hex_field(ar, &ROOT.field("policy_hash"), 64)?;
    let at = ROOT.field("measurements");
    let measurements = object_field(ar, &at)?;
    let auditors_at = at.field("auditors");
    for (id, hash) in object_field(measurements, &auditors_at)?.members() {
        if !hash.as_str().is_some_and(|h| is_lower_hex(h, 64)) {
            return Err(invalid(
                &auditors_at.field(id),
                "64 lowercase hex characters",
            ));
        }
    }
    hex_field(measurements, &at.field("plugin_set_hash"), 64)?;
    for optional in ["config_hash", "host_sha256", "settings_hash"] {
        if measurements.contains_key(optional) {
            hex_field(measurements, &at.field(optional), 64)?;
        }
    }

    for (key, value) in ar.members() {
        if let Some(path) = unsafe_integer(value, &ROOT.field(key)) {
            return Err(FormatError::UnsafeInteger(path));
        }
    }

    let computed = phases_claims_hash(phases);
    if let Some(claimed) = ar.get("claims_hash") {
        let claimed = claimed
            .as_str()
            .filter(|h| is_lower_hex(h, 64))
            .ok_or_else(|| invalid(&ROOT.field("claims_hash"), "64 lowercase hex characters"))?;
        if claimed != computed {
            return Err(FormatError::ClaimsHash {
                claimed: claimed.to_owned(),
                computed,
            });
        }
    }
    Ok(computed)
}

/// Checks the fields the signer adds (but not `ar_hash` and `signature`).
pub(crate) fn check_chain_fields<O: Members>(ar: &O) -> Result<ChainFields<'_>, FormatError> {
    let depth_at = ROOT.field("chain_depth");
    let depth = field(ar, &depth_at)?
        .as_number()
        .and_then(Number::as_u64)
        .filter(|d| *d <= MAX_SAFE_INTEGER)
        .ok_or_else(|| invalid(&depth_at, "an integer in 0..=2^53-1"))?;
    let references_at = ROOT.field("ar_references");
    let previous = match (depth, array_field(ar, &references_at)?) {
        (0, []) => None,
        (1.., [only]) => Some(
            only.as_str()
                .filter(|h| is_lower_hex(h, 64))
                .ok_or_else(|| invalid(&references_at.index(0), "64 lowercase hex characters"))?,
        ),
        (0, _) => return Err(invalid(&references_at, "empty at chain_depth 0")),
        _ => {
            return Err(invalid(
                &references_at,
                "exactly one ar_hash at chain_depth > 0",
            ));
        }
    };
    let at = ROOT.field("signer");
    let signer = object_field(ar, &at)?;
    let public_key = hex_field(signer, &at.field("public_key"), 64)?;
    hex_field(signer, &at.field("receipt_sha256"), 64)?;
    let splice = match ar.get("splice") {
        None => None,
        Some(splice) => {
            let at = ROOT.field("splice");
            let splice = splice
                .as_object()
                .ok_or_else(|| invalid(&at, "an object"))?;
            let splice = Splice {
                previous_public_key: hex_field(splice, &at.field("previous_public_key"), 64)?,
                previous_ar_hash: hex_field(splice, &at.field("previous_ar_hash"), 64)?,
            };
            if previous != Some(splice.previous_ar_hash) {
                return Err(invalid(
                    &at.field("previous_ar_hash"),
                    "equal to ar_references[0]",
                ));
            }
            if splice.previous_public_key == public_key {
                return Err(invalid(
                    &at.field("previous_public_key"),
                    "a key other than signer.public_key",
                ));
            }
            Some(splice)
        }
    };
    Ok(ChainFields {
        depth,
        previous,
        public_key,
        splice,
    })
}

/// `s` is exactly `len` lowercase hex digits.
pub(crate) fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A top-level field holding `len` lowercase hex digits.
pub(crate) fn hex_top_field<'a, O: Members>(
    obj: &'a O,
    name: &str,
    len: usize,
) -> Result<&'a str, FormatError> {
    hex_field(obj, &ROOT.field(name), len)
}

fn hex_field<'a, O: Members>(
    obj: &'a O,
    at: &Path<'_>,
    len: usize,
) -> Result<&'a str, FormatError> {
    let s = str_field(obj, at)?;
    if is_lower_hex(s, len) {
        Ok(s)
    } else if len == 128 {
        Err(invalid(at, "128 lowercase hex characters"))
    } else {
        Err(invalid(at, "64 lowercase hex characters"))
    }
}

fn check_claim<N: Node>(claim: &N, at: &Path<'_>) -> Result<(), FormatError> {
    let claim = claim.as_object().ok_or_else(|| invalid(at, "an object"))?;
    non_empty(claim, &at.field("auditor"))?;
    hex_field(claim, &at.field("auditor_sha256"), 64)?;
    non_empty(claim, &at.field("name"))?;
    let kind = str_field(claim, &at.field("type"))?;
    let value = field(claim, &at.field("value"))?;
    let Ok(kind) = kind.parse::<ClaimType>() else {
        return Err(invalid(
            &at.field("type"),
            "one of score_normalized, boolean, string, string_list, count, duration_ms, object",
        ));
    };
    let (ok, expected) = match kind {
        ClaimType::ScoreNormalized => (
            as_f64(value).is_some_and(|x| (0.0..=1.0).contains(&x)),
            "a number in 0..=1 (type score_normalized)",
        ),
        ClaimType::Boolean => (value.is_boolean(), "a boolean (type boolean)"),
        ClaimType::String => (value.is_string(), "a string (type string)"),
        ClaimType::StringList => (
            value
                .as_array()
                .is_some_and(|items| items.iter().all(N::is_string)),
            "an array of strings (type string_list)",
        ),
        ClaimType::Count | ClaimType::DurationMs => (
            value.as_number().is_some_and(Number::is_u64),
            "a non-negative integer (type count or duration_ms)",
        ),
        ClaimType::Object => (true, ""),
    };
    if !ok {
        return Err(invalid(&at.field("value"), expected));
    }
    let confidence = field(claim, &at.field("confidence"))?;
    if !as_f64(confidence).is_some_and(|c| (0.0..=1.0).contains(&c)) {
        return Err(invalid(&at.field("confidence"), "a number in 0..=1"));
    }
    Ok(())
}

fn as_f64<N: Node>(value: &N) -> Option<f64> {
    value.as_number().and_then(Number::as_f64)
}

fn invalid(at: &Path<'_>, expected: &'static str) -> FormatError {
    FormatError::Invalid {
        field: at.to_string(),
        expected,
    }
}

fn field<'a, O: Members>(obj: &'a O, at: &Path<'_>) -> Result<&'a O::Node, FormatError> {
    let name = match at {
        Path::Field(_, name) => name,
        _ => "",
    };
    obj.get(name)
        .ok_or_else(|| FormatError::Missing(at.to_string()))
}

fn str_field<'a, O: Members>(obj: &'a O, at: &Path<'_>) -> Result<&'a str, FormatError> {
    field(obj, at)?
        .as_str()
        .ok_or_else(|| invalid(at, "a string"))
}

fn non_empty<'a, O: Members>(obj: &'a O, at: &Path<'_>) -> Result<&'a str, FormatError> {
    let s = str_field(obj, at)?;
    if s.is_empty() {
        return Err(invalid(at, "a non-empty string"));
    }
    Ok(s)
}

fn object_field<'a, O: Members>(obj: &'a O, at: &Path<'_>) -> Result<&'a O, FormatError> {
    field(obj, at)?
        .as_object()
        .ok_or_else(|| invalid(at, "an object"))
}

fn array_field<'a, O: Members>(obj: &'a O, at: &Path<'_>) -> Result<&'a [O::Node], FormatError> {
    field(obj, at)?
        .as_array()
        .ok_or_else(|| invalid(at, "an array"))
}

fn string_list<O: Members>(obj: &O, at: &Path<'_>) -> Result<(), FormatError> {
    if array_field(obj, at)?.iter().all(Node::is_string) {
        Ok(())
    } else {
        Err(invalid(at, "an array of strings"))
    }
}

fn effect<'a, O: Members>(obj: &'a O, at: &Path<'_>) -> Result<&'a str, FormatError> {
    let s = str_field(obj, at)?;
    if EFFECTS.contains(&s) {
        Ok(s)
    } else {
        Err(invalid(at, "'allow' or 'deny'"))
    }
}

/// The path of the first integer outside ±(2^53 − 1) in `value`, if any. Floats are fine: JCS
/// formats them the same way everywhere; large integers are where implementations disagree.
fn unsafe_integer<N: Node>(value: &N, at: &Path<'_>) -> Option<String> {
    if let Some(n) = value.as_number() {
        let safe = if let Some(u) = n.as_u64() {
            u <= MAX_SAFE_INTEGER
        } else if let Some(i) = n.as_i64() {
            i.unsigned_abs() <= MAX_SAFE_INTEGER
        } else {
            true
        };
        (!safe).then(|| at.to_string())
    } else if let Some(items) = value.as_array() {
        items
            .iter()
            .enumerate()
            .find_map(|(i, v)| unsafe_integer(v, &at.index(i)))
    } else if let Some(object) = value.as_object() {
        object
            .members()
            .find_map(|(k, v)| unsafe_integer(v, &at.field(k)))
    } else {
        None
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` with a valid date and time (a leap second is allowed).
fn is_rfc3339_utc(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 || b[b.len() - 1] != b'Z' {
        return false;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = &b[range];
        digits
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let separators =
        b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' && b[16] == b':';
    let fraction = &b[19..b.len() - 1];
    let fraction_ok = fraction.is_empty()
        || (fraction.len() >= 2
            && fraction[0] == b'.'
            && fraction[1..].iter().all(u8::is_ascii_digit));
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    ) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    separators
        && fraction_ok
        && (1..=days).contains(&day)
        && hour < 24
        && minute < 60
        && second <= 60
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        for good in [
            "2025-01-31T23:59:59Z",
            "2024-02-29T00:00:00.123456Z",
            "2016-12-31T23:59:60Z",
        ] {
            assert!(is_rfc3339_utc(good), "{good}");
        }
        for bad in [
            "2025-01-31T23:59:59",
            "2025-01-31 23:59:59Z",
            "2025-02-29T00:00:00Z",
            "2025-13-01T00:00:00Z",
            "2025-01-31T24:00:00Z",
            "2025-01-31T23:59:59.Z",
            "2025-01-31T23:59:59+00:00",
            "2025-1-31T23:59:59Z",
            "",
        ] {
            assert!(!is_rfc3339_utc(bad), "{bad}");
        }
    }

    #[test]
    fn unsafe_integers_are_found_with_their_path() {
        let x = ROOT.field("x");
        let v = serde_json::json!({"a": [1, {"b": 9007199254740992_u64}]});
        assert_eq!(unsafe_integer(&v, &x).as_deref(), Some("x.a[1].b"));
        let v = serde_json::json!({"a": [9007199254740991_u64, -9007199254740991_i64, 1e300]});
        assert_eq!(unsafe_integer(&v, &x), None);
        let v = serde_json::json!(-9007199254740992_i64);
        assert!(unsafe_integer(&v, &x).is_some());
    }
}
