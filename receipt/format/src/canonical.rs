//! Canonical bytes (RFC 8785, JCS) and the hashes built on them.

use std::cmp::Ordering;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::json::{Json, Members, Node, Object, Text};
use crate::{FormatError, SIGNATURE_FIELDS};

/// The RFC 8785 (JSON Canonicalization Scheme) serialization of `value`.
pub fn canonical_bytes(value: &Value) -> Vec<u8> {
    to_jcs(value)
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    lower_hex(&Sha256::digest(bytes))
}

/// Lowercase hex of `bytes` (what `hex::encode` gives, without its char-by-char collect).
pub(crate) fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0xf)]);
    }
    String::from_utf8(out).expect("hex digits are ascii")
}

/// The bytes an AR's `ar_hash` and `signature` are computed over: the JCS serialization of the AR
/// without `ar_hash` and `signature`.
pub fn signing_bytes(ar: &Map<String, Value>) -> Vec<u8> {
    to_jcs(&WithoutSignature(ar))
}

/// The `ar_hash` of an AR: lowercase hex SHA-256 of its [`signing_bytes`].
pub fn ar_hash(ar: &Value) -> Result<String, FormatError> {
    let object = ar.as_object().ok_or(FormatError::NotAnObject)?;
    Ok(sha256_hex(&signing_bytes(object)))
}

/// The `claims_hash` of a list of claims: lowercase hex SHA-256 of the JCS bytes of the array.
pub fn claims_hash(claims: &[Value]) -> String {
    sha256_hex(&to_jcs(claims))
}

/// The `claims_hash` of an AR's `phases`: every claim of every phase, in order, as one array.
/// Phases that are not objects or lack a `claims` array contribute nothing (the format check
/// rejects them separately).
pub(crate) fn phases_claims_hash<N: Node + Canonical>(phases: &[N]) -> String {
    sha256_hex(&to_jcs(&AllClaims(phases)))
}

/// The JCS bytes of a signer's object, an AR without `ar_hash` and `signature`, written into
/// `out`.
pub(crate) fn write_object_jcs(object: &Object<'_>, out: &mut Vec<u8>) {
    object.write(out);
}

fn to_jcs<T: Canonical + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    value.write(&mut out);
    out
}

/// Something with a JCS serialization, written straight into a byte buffer.
///
/// A direct writer over the JSON trees rather than a serde `Serializer`: the
/// `serde_json_canonicalizer` crate buffers every object member and re-parses every key to sort
/// it, which made canonicalization the largest cost of signing. The bytes are the same; the
/// tests check this writer against that crate and against the RFC 8785 vectors.
pub(crate) trait Canonical {
    fn write(&self, out: &mut Vec<u8>);
}

impl Canonical for Value {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Value::Null => out.extend_from_slice(b"null"),
            Value::Bool(true) => out.extend_from_slice(b"true"),
            Value::Bool(false) => out.extend_from_slice(b"false"),
            Value::Number(n) => write_number(n, out),
            Value::String(s) => write_string(s, out),
            Value::Array(items) => write_array(items.iter(), out),
            Value::Object(map) => write_members(map.iter().map(|(k, v)| (k.as_str(), v)), out),
        }
    }
}

impl Canonical for Json<'_> {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Json::Null => out.extend_from_slice(b"null"),
            Json::Bool(true) => out.extend_from_slice(b"true"),
            Json::Bool(false) => out.extend_from_slice(b"false"),
            Json::Number(n) => write_number(n, out),
            Json::String(text) => write_text_string(text, out),
            Json::Array(items) => write_array(items.iter(), out),
            Json::Object(object) => object.write(out),
        }
    }
}

impl Canonical for Object<'_> {
    fn write(&self, out: &mut Vec<u8>) {
        if self.in_canonical_order() {
            out.push(b'{');
            for (i, (name, value)) in self.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_text_string(name, out);
                out.push(b':');
                value.write(out);
            }
            out.push(b'}');
        } else {
            write_members(self.members(), out);
        }
    }
}

impl<T: Canonical> Canonical for [T] {
    fn write(&self, out: &mut Vec<u8>) {
        write_array(self.iter(), out);
    }
}

/// An AR object seen without its `ar_hash` and `signature`, so nothing has to be cloned.
struct WithoutSignature<'a>(&'a Map<String, Value>);

impl Canonical for WithoutSignature<'_> {
    fn write(&self, out: &mut Vec<u8>) {
        write_members(
            self.0
                .iter()
                .filter(|(key, _)| !SIGNATURE_FIELDS.contains(&key.as_str()))
                .map(|(k, v)| (k.as_str(), v)),
            out,
        );
    }
}

/// The claims of every phase as one array.
struct AllClaims<'a, N>(&'a [N]);

impl<N: Node + Canonical> Canonical for AllClaims<'_, N> {
    fn write(&self, out: &mut Vec<u8>) {
        write_array(
            self.0
                .iter()
                .filter_map(|phase| phase.as_object()?.get("claims")?.as_array())
                .flatten(),
            out,
        );
    }
}

fn write_array<'a, T: Canonical + 'a>(items: impl Iterator<Item = &'a T>, out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        item.write(out);
    }
    out.push(b']');
}

/// Members sorted by their names as UTF-16 code units (RFC 8785 section 3.2.3).
fn write_members<'a, T: Canonical + 'a>(
    members: impl Iterator<Item = (&'a str, &'a T)>,
    out: &mut Vec<u8>,
) {
    let mut members: Vec<(&str, &T)> = members.collect();
    members.sort_unstable_by(|(a, _), (b, _)| utf16_cmp(a, b));
    out.push(b'{');
    for (i, (key, value)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(key, out);
        out.push(b':');
        value.write(out);
    }
    out.push(b'}');
}

/// A string of a [`Json`] tree: one without escapes in its source is copied as it is (JCS and
/// serde_json escape the same characters, and it has none of them).
pub(crate) fn write_text_string(text: &Text<'_>, out: &mut Vec<u8>) {
    match text {
        Text::Raw(s) => {
            out.push(b'"');
            out.extend_from_slice(s.as_bytes());
            out.push(b'"');
        }
        Text::Unescaped(s) => write_string(s, out),
    }
}

/// UTF-16 code unit order. It equals byte order of the UTF-8 text except where a character
/// above U+FFFF (a surrogate pair, 0xD800..) meets one in U+E000..=U+FFFF.
fn utf16_cmp(a: &str, b: &str) -> Ordering {
    if a.is_ascii() || b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// ECMAScript `Number.prototype.toString` of the value as a double (RFC 8785 section 3.2.2.3).
fn write_number(n: &serde_json::Number, out: &mut Vec<u8>) {
    // Integers up to 2^53 print the same as their double; larger ones round like a double.
    const EXACT: u64 = 1 << 53;
    if let Some(u) = n.as_u64().filter(|u| *u <= EXACT) {
        out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
    } else if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= EXACT) {
        out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
    } else {
        // Every number serde_json holds without arbitrary_precision is finite.
        let f = n.as_f64().unwrap_or_default();
        out.extend_from_slice(ryu_js::Buffer::new().format_finite(f).as_bytes());
    }
}

/// A JSON string with only the escapes RFC 8785 section 3.2.2.2 allows: `\"`, `\\`, the short
/// forms of control characters that have one, and `\u00xx` (lowercase) for the others.
pub(crate) fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    #[test]
    fn lower_hex_is_hex_encode() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(super::lower_hex(&bytes), hex::encode(&bytes));
        assert_eq!(super::lower_hex(&[]), "");
    }
}
