//! Errors. Messages are lowercase and say what was wrong and what was expected.

/// An AR or a core that does not have the shape `lucid-ar/1` requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("an ar must be a json object")]
    NotAnObject,
    #[error("invalid json: {0}")]
    Json(String),
    #[error("field '{0}' is missing")]
    Missing(String),
    #[error("field '{field}' must be {expected}")]
    Invalid {
        field: String,
        expected: &'static str,
    },
    #[error("unsupported version '{0}'; expected 'lucid-ar/1'")]
    Version(String),
    #[error("field '{0}' is reserved for the signer and must not be in the core")]
    Reserved(String),
    #[error("decision is 'allow' but phase {0} denies")]
    AllowOverDeny(usize),
    #[error("claims_hash {claimed} does not match the claims in phases ({computed})")]
    ClaimsHash { claimed: String, computed: String },
    #[error("number at '{0}' is an integer outside ±(2^53 - 1)")]
    UnsafeInteger(String),
}

/// Why the signer refused a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("core is not a valid lucid-ar/1 core: {0}")]
    Core(FormatError),
    #[error("receipt_sha256 must be 64 lowercase hex characters")]
    ReceiptHash,
    #[error("the entropy source returned {0} bytes; expected 32 varying bytes")]
    Entropy(usize),
    #[error("the signer is already initialised")]
    AlreadyInitialised,
    #[error("the signer is not initialised; call init first")]
    NotInitialised,
    #[error("resume is only allowed once, before the first sign")]
    ResumeTooLate,
    #[error("the previous ar does not verify: {0}")]
    Previous(VerifyError),
    #[error("the previous ar was signed by this signer's own key")]
    PreviousSameKey,
    #[error("chain_depth would exceed 2^53 - 1")]
    DepthExhausted,
    #[error("the core is {0} bytes; at most {max} are accepted", max = crate::MAX_CORE_BYTES)]
    CoreTooLarge(usize),
}

/// Why one AR does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    Format(#[from] FormatError),
    #[error("ar_hash {claimed} does not match the canonical bytes ({computed})")]
    ArHash { claimed: String, computed: String },
    #[error("signer.public_key is not a valid ed25519 public key")]
    PublicKey,
    #[error("signature does not verify against signer.public_key")]
    Signature,
    #[error("binding_hash {claimed} does not match the ar's binding ({computed})")]
    BindingHash { claimed: String, computed: String },
}
