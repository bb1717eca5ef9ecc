//! Canonical bytes (RFC 8785, JCS) and the hashes built on them.

use serde::Serialize;
use serde::ser::Serializer;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::{FormatError, SIGNATURE_FIELDS};

/// The RFC 8785 (JSON Canonicalization Scheme) serialization of `value`.
pub fn canonical_bytes(value: &Value) -> Vec<u8> {
    to_jcs(value)
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
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
    sha256_hex(&to_jcs(&claims))
}

/// The `claims_hash` of an AR's `phases`: every claim of every phase, in order, as one array.
/// Phases that are not objects or lack a `claims` array contribute nothing (the format check
/// rejects them separately).
pub(crate) fn phases_claims_hash(phases: &[Value]) -> String {
    sha256_hex(&to_jcs(&AllClaims(phases)))
}

fn to_jcs<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing JSON values into a Vec cannot fail: numbers in a `Value` are finite, keys are
    // strings and unique, and writing to a Vec has no I/O error.
    serde_json_canonicalizer::to_vec(value).expect("JSON values always have a JCS form")
}

/// An AR object seen without its `ar_hash` and `signature`, so nothing has to be cloned.
struct WithoutSignature<'a>(&'a Map<String, Value>);

impl Serialize for WithoutSignature<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(
            self.0
                .iter()
                .filter(|(key, _)| !SIGNATURE_FIELDS.contains(&key.as_str())),
        )
    }
}

/// The claims of every phase as one sequence.
struct AllClaims<'a>(&'a [Value]);

impl Serialize for AllClaims<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            self.0
                .iter()
                .filter_map(|phase| phase.get("claims").and_then(Value::as_array))
                .flatten(),
        )
    }
}
