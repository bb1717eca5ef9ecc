//! The Lucid AttestationResult format, `lucid-ar/1`: canonical bytes, hashes, signing, and the
//! verification of single ARs and of whole chains.
//!
//! This crate is the one implementation of the format. The receipt signer component signs with
//! it ([`ChainSigner`]); the host, the CLI and anyone else verify with it ([`verify_single`],
//! [`verify_chain`], [`verify_segment`]). It is pure Rust, without clock or randomness, and builds
//! for `wasm32-unknown-unknown`.
//!
//! # The format
//!
//! An AR is a JSON object. The host provides the *core*:
//!
//! | field | value |
//! |---|---|
//! | `version` | `"lucid-ar/1"` |
//! | `request_id` | non-empty string |
//! | `timestamp` | RFC 3339 in UTC: `YYYY-MM-DDTHH:MM:SS[.fraction]Z` |
//! | `scope` | `{org, workspace, agent}`, strings |
//! | `phases` | array of `{phase, claims, decision}`; `phase` is `artifact`, `request`, `execution` or `response`; `decision` is `{effect: "allow"\|"deny", reasons: [policy id], errors: [string]}` |
//! | claim | `{auditor, auditor_sha256, name, type, value, confidence, metadata?}`; `type` is one of `score_normalized`, `boolean`, `string`, `string_list`, `count`, `duration_ms`, `object`, and `value` must have that type; `confidence` in 0..=1 |
//! | `claims_hash` | SHA-256 of the JCS bytes of the array of every claim of every phase, in order (computed by the signer when the core leaves it out) |
//! | `decision` | `"allow"` or `"deny"`; `"allow"` only if every phase allows |
//! | `policy_hash` | hash of the policy set |
//! | `measurements` | `{auditors: {id: sha256}, plugin_set_hash, config_hash?, host_sha256?, settings_hash?}` |
//!
//! The signer adds ([`RESERVED_FIELDS`]; a core holding any of them is refused):
//!
//! | field | value |
//! |---|---|
//! | `chain_depth` | 0 for the first AR of a chain, previous + 1 after |
//! | `ar_references` | `[]` at depth 0, else `[ar_hash of the previous AR]` |
//! | `signer` | `{public_key, receipt_sha256}`: the Ed25519 key and the SHA-256 of the signer component the host says it loaded |
//! | `binding_hash` | SHA-256 of the JCS bytes of the attestation binding of the AR (see [`binding_of`]): what a hardware report's `report_data` vouches for |
//! | `splice` | only on the first AR of a new key continuing a previous key's chain: `{previous_public_key, previous_ar_hash}` |
//! | `ar_hash` | SHA-256 of the RFC 8785 (JCS) bytes of the AR without `ar_hash` and `signature` |
//! | `signature` | Ed25519 (RFC 8032) signature over those same bytes |
//!
//! Every hash and key is lowercase hex (64 characters; 128 for the signature). Every integer lies
//! within ±(2^53 − 1), so that every JCS implementation (which all see numbers as IEEE doubles)
//! produces the same bytes. Fields not listed here are allowed, covered by `ar_hash`, and
//! ignored by verifiers.

mod binding;
mod canonical;
mod check;
mod error;
mod json;
mod sign;
mod verify;

pub use binding::{binding_hash, binding_of};
pub use canonical::{ar_hash, canonical_bytes, claims_hash, sha256_hex, signing_bytes};
pub use error::{FormatError, SignError, VerifyError};
pub use sign::{ChainSigner, Tip};
pub use verify::{
    ChainError, ChainReport, Fork, SpliceInfo, VerifiedAr, verify_chain, verify_segment,
    verify_single,
};

/// The value of `version` this crate writes and accepts.
pub const VERSION: &str = "lucid-ar/1";

/// The largest core, in bytes of its JSON text, the signer accepts. The host keeps every
/// exchange's core below it (it budgets the claims and shrinks an oversized core itself), so
/// that a core never exhausts the signer's memory.
pub const MAX_CORE_BYTES: usize = 4 << 20;

/// Fields only the signer sets. A core containing any of them is refused.
pub const RESERVED_FIELDS: [&str; 7] = [
    "ar_hash",
    "binding_hash",
    "signature",
    "chain_depth",
    "ar_references",
    "signer",
    "splice",
];

/// The fields left out of the bytes that are hashed and signed.
pub const SIGNATURE_FIELDS: [&str; 2] = ["ar_hash", "signature"];

/// The largest integer magnitude an AR may hold (2^53 − 1, the I-JSON limit): the contract's
/// integer domain.
pub use lucid_contract::MAX_SAFE_INTEGER;
