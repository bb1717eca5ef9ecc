//! The vocabulary of Lucid, defined once: the phases of an exchange, the claims auditors make
//! about them, the scope an exchange belongs to and the settings auditors take.
//!
//! The host, the guest SDK, the policy engine and the receipt format (`lucid-ar`) all use these
//! types, so a phase or a claim type means the same thing, with the same name, everywhere. The
//! snake_case names (`score_normalized`, `duration_ms`, `string_list`...) are a public contract:
//! they appear in JSON, in receipts, in Cedar policies and, in kebab-case, in
//! `wit/auditor/auditor.wit` (a test checks that the WIT file and these types agree).
//!
//! This crate has no I/O and depends on nothing but serde: it builds natively, for
//! `wasm32-wasip2` (auditors) and for `wasm32-unknown-unknown` (the receipt signer).

mod claim;
mod phase;
mod scope;
mod setting;
mod span;

pub use claim::{Claim, ClaimType, ClaimValue, DomainError};
pub use phase::Phase;
pub use scope::Scope;
pub use setting::{SettingError, SettingType, SettingValue};
pub use span::{
    MAX_SPAN_FIELD_BYTES, MAX_SPAN_KIND_BYTES, MAX_SPAN_LABEL_BYTES, MAX_SPANS_PER_CLAIM, Span,
    SpanError, is_kind_name, is_label, is_replacement_text,
};

/// The largest integer the contract carries: 2^53 − 1, the I-JSON limit. Every integer of an
/// AttestationResult lies within ±`MAX_SAFE_INTEGER`, so that every JSON implementation (many
/// read numbers as IEEE doubles) reads and canonicalises it the same way; claims are checked
/// against it before they reach one ([`Claim::check_domain`]).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A name that is not one of a closed set of contract names, such as a phase or a claim type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} '{name}' (expected {expected})")]
pub struct UnknownName {
    kind: &'static str,
    name: String,
    expected: &'static str,
}

impl UnknownName {
    fn new(kind: &'static str, name: &str, expected: &'static str) -> Self {
        Self {
            kind,
            name: name.to_owned(),
            expected,
        }
    }

    /// What was being named: `phase` or `claim type`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The name that was given.
    pub fn name(&self) -> &str {
        &self.name
    }
}
