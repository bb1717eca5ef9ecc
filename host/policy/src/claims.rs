//! The inputs of a decision. Phases, claims and scopes are the contract's ([`lucid_contract`]);
//! a scope becomes Cedar entities (`Agent::"…"` in `Workspace::"…"` in `Org::"…"`), so
//! `principal in Org::"acme"` matches every agent of the org.

use serde::{Deserialize, Serialize};

pub use lucid_contract::{Claim, ClaimType, ClaimValue, Phase, Scope};

/// The Cedar schema type a claim of type `ty` is exposed as; `None` for objects, which are not
/// exposed to policies (their shape is the auditor's business, not the policy's). Each phase is
/// one Cedar action, named by [`Phase::as_str`] (`Action::"request"`).
pub fn cedar_type(ty: ClaimType) -> Option<&'static str> {
    match ty {
        ClaimType::ScoreNormalized => Some("decimal"),
        ClaimType::Boolean => Some("Bool"),
        ClaimType::String => Some("String"),
        ClaimType::StringList => Some("Set<String>"),
        ClaimType::Count | ClaimType::DurationMs => Some("Long"),
        ClaimType::Object => None,
    }
}

/// What the policy engine needs of one auditor's vocabulary: its id and the claims it declares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditorVocabulary {
    pub id: String,
    pub claims: Vec<(String, ClaimType)>,
}

impl AuditorVocabulary {
    pub fn new<N: Into<String>>(
        id: impl Into<String>,
        claims: impl IntoIterator<Item = (N, ClaimType)>,
    ) -> Self {
        AuditorVocabulary {
            id: id.into(),
            claims: claims.into_iter().map(|(n, t)| (n.into(), t)).collect(),
        }
    }
}

/// Which auditors ran for the phase (including those that failed) and which failed, by auditor
/// id. Policies read them as `context.coverage.ran` and `context.coverage.failed`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coverage {
    #[serde(default)]
    pub ran: Vec<String>,
    #[serde(default)]
    pub failed: Vec<String>,
}

/// Everything one decision is taken over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRequest {
    pub scope: Scope,
    pub phase: Phase,
    /// The model asked for; the resource `Model::"<model>"`.
    pub model: String,
    /// The phase's claims plus the artifact claims; each name at most once.
    pub claims: Vec<Claim>,
    pub coverage: Coverage,
}
