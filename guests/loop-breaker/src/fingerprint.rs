//! Fingerprints: 64-bit hashes of tool calls and conversation steps that are equal exactly when
//! the things they stand for are the same for loop detection.
//!
//! Hashing instead of keeping canonical text bounds memory to 8 bytes per call, whatever the size
//! of the arguments; a collision between two different calls needs ~2^32 distinct calls in one
//! window to become likely.

use std::hash::{DefaultHasher, Hash, Hasher};

use lucid_auditor_sdk::serde_json::{self, Value};

pub type Fingerprint = u64;

/// A call's fingerprint: its name and its arguments as canonical JSON. Arguments that are not
/// JSON are compared as trimmed text; empty arguments equal `{}` (both mean "no parameters").
pub fn call_fingerprint(name: &str, arguments: &str) -> Fingerprint {
    let mut hasher = DefaultHasher::new();
    name.hash(&mut hasher);
    let arguments = arguments.trim();
    if arguments.is_empty() {
        hash_value(&Value::Object(serde_json::Map::new()), &mut hasher);
    } else {
        match serde_json::from_str::<Value>(arguments) {
            Ok(value) => hash_value(&value, &mut hasher),
            Err(_) => {
                0xFFu8.hash(&mut hasher); // a tag no JSON value uses
                arguments.hash(&mut hasher);
            }
        }
    }
    hasher.finish()
}

/// A tool result's fingerprint: its text, trimmed.
pub fn result_fingerprint(content: &str) -> Fingerprint {
    let mut hasher = DefaultHasher::new();
    content.trim().hash(&mut hasher);
    hasher.finish()
}

/// A call together with what it got back (`None`: no result seen). Two calls repeat each other
/// only when both match: polling a job whose status changes is progress, not a loop.
pub fn outcome_fingerprint(call: Fingerprint, result: Option<Fingerprint>) -> Fingerprint {
    let mut hasher = DefaultHasher::new();
    call.hash(&mut hasher);
    result.hash(&mut hasher);
    hasher.finish()
}

/// Argument keys of numbers that only count attempts (compared with `_` and `-` removed, in
/// lowercase): `{"q":"rust","attempt":3}` asks the same as `{"q":"rust","attempt":2}`.
const ATTEMPT_KEYS: [&str; 10] = [
    "attempt",
    "attempts",
    "attemptno",
    "attemptnumber",
    "retry",
    "retries",
    "retrycount",
    "retrynumber",
    "try",
    "tries",
];

fn is_attempt_counter(key: &str, value: &Value) -> bool {
    value.is_number() && {
        let key: String = key
            .chars()
            .filter(|c| !matches!(c, '_' | '-'))
            .flat_map(char::to_lowercase)
            .collect();
        ATTEMPT_KEYS.contains(&key.as_str())
    }
}

/// A step's fingerprint: who spoke, what they said (trimmed), and the calls they made in order.
pub fn step_fingerprint(role: &str, content: &str, calls: &[Fingerprint]) -> Fingerprint {
    let mut hasher = DefaultHasher::new();
    role.hash(&mut hasher);
    content.trim().hash(&mut hasher);
    calls.hash(&mut hasher);
    hasher.finish()
}

/// Hashes a JSON value so that equal documents hash equally: object keys in sorted order,
/// numbers by value (`1`, `1.0` and `1e0` are the same number), and the numbers of attempt
/// counters (`"attempt": 3`, `"retry_count": 2`) masked. The parser's depth limit (128) bounds
/// the recursion.
fn hash_value(value: &Value, hasher: &mut DefaultHasher) {
    match value {
        Value::Null => 0u8.hash(hasher),
        Value::Bool(b) => {
            1u8.hash(hasher);
            b.hash(hasher);
        }
        Value::Number(number) => {
            2u8.hash(hasher);
            if let Some(i) = number.as_i64() {
                i128::from(i).hash(hasher);
            } else if let Some(u) = number.as_u64() {
                i128::from(u).hash(hasher);
            } else {
                let f = number.as_f64().unwrap_or(f64::NAN);
                // An integral float is the integer it spells; -0.0 is 0.
                if f.fract() == 0.0 && f.abs() < 1e18 {
                    (f as i128).hash(hasher);
                } else {
                    f.to_bits().hash(hasher);
                }
            }
        }
        Value::String(s) => {
            3u8.hash(hasher);
            s.hash(hasher);
        }
        Value::Array(items) => {
            4u8.hash(hasher);
            items.len().hash(hasher);
            for item in items {
                hash_value(item, hasher);
            }
        }
        Value::Object(map) => {
            5u8.hash(hasher);
            map.len().hash(hasher);
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            for (key, item) in entries {
                key.hash(hasher);
                if is_attempt_counter(key, item) {
                    6u8.hash(hasher); // a tag no JSON value uses: "some attempt number"
                } else {
                    hash_value(item, hasher);
                }
            }
        }
    }
}

/// Message `content` flattened the way the SDK flattens it for [`lucid_auditor_sdk::Message`]:
/// the response's message must be flattened identically, or it would never match the same
/// message once it is in the history.
pub use lucid_auditor_sdk::content_text;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_compare_as_canonical_json() {
        let base = call_fingerprint("search", r#"{"q":"rust","page":1}"#);
        for same in [
            r#"{ "page": 1, "q": "rust" }"#,
            r#"{"q":"r\u0075st","page":1.0}"#,
            "\n{\"page\":1e0,\"q\":\"rust\"}\t",
        ] {
            assert_eq!(call_fingerprint("search", same), base, "{same}");
        }
        for different in [r#"{"q":"rust","page":2}"#, r#"{"q":"Rust","page":1}"#] {
            assert_ne!(call_fingerprint("search", different), base, "{different}");
        }
        assert_ne!(call_fingerprint("lookup", r#"{"q":"rust","page":1}"#), base);
    }

    #[test]
    fn attempt_counters_are_masked() {
        let first = call_fingerprint("search", r#"{"q":"rust","attempt":1}"#);
        for same in [
            r#"{"q":"rust","attempt":11}"#,
            r#"{"attempt":2.0,"q":"rust"}"#,
        ] {
            assert_eq!(call_fingerprint("search", same), first, "{same}");
        }
        assert_eq!(
            call_fingerprint("f", r#"{"x":{"Retry_Count":1}}"#),
            call_fingerprint("f", r#"{"x":{"Retry_Count":7}}"#)
        );
        // Only numbers are masked, and only under attempt keys.
        assert_ne!(
            call_fingerprint("f", r#"{"attempt":"a"}"#),
            call_fingerprint("f", r#"{"attempt":"b"}"#)
        );
        assert_ne!(
            call_fingerprint("f", r#"{"page":1}"#),
            call_fingerprint("f", r#"{"page":2}"#)
        );
        assert_ne!(
            call_fingerprint("search", r#"{"q":"rust"}"#),
            first,
            "the key itself still counts"
        );
    }

    #[test]
    fn empty_arguments_are_no_parameters_and_text_is_text() {
        assert_eq!(call_fingerprint("now", ""), call_fingerprint("now", "{}"));
        assert_eq!(
            call_fingerprint("now", "  "),
            call_fingerprint("now", " {} ")
        );
        assert_eq!(
            call_fingerprint("sh", "ls -la "),
            call_fingerprint("sh", " ls -la")
        );
        assert_ne!(
            call_fingerprint("sh", "{not json"),
            call_fingerprint("sh", "{not  json")
        );
        // A JSON string and the same characters unquoted are different arguments.
        assert_ne!(call_fingerprint("f", "\"x\""), call_fingerprint("f", "x"));
    }

    #[test]
    fn nesting_and_big_numbers_hash_without_panicking() {
        let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        assert_eq!(call_fingerprint("f", &deep), call_fingerprint("f", &deep));
        let too_deep = format!("{}1{}", "[".repeat(1000), "]".repeat(1000));
        let _ = call_fingerprint("f", &too_deep); // not JSON to serde (depth limit): text
        assert_ne!(
            call_fingerprint("f", "18446744073709551615"),
            call_fingerprint("f", "1.5e300")
        );
    }

    #[test]
    fn content_is_flattened_like_the_sdk() {
        let parts: Value = serde_json::from_str(
            r#"[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"u"}},{"type":"output_text","text":"b"}]"#,
        )
        .unwrap();
        assert_eq!(content_text(Some(&parts)), "a\nb");
        assert_eq!(content_text(Some(&Value::Null)), "");
        assert_eq!(content_text(None), "");
    }
}
