//! The inputs of a decision, in this crate's own types: the host maps its claims, vocabularies
//! and scopes onto these, so the policy engine never depends on the host (or on wasmtime).

use serde::{Deserialize, Serialize};

/// When in an exchange a decision is taken. Each phase is one Cedar action (`Action::"request"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Artifact,
    Request,
    Execution,
    Response,
}

impl Phase {
    pub const ALL: [Phase; 4] = [
        Phase::Artifact,
        Phase::Request,
        Phase::Execution,
        Phase::Response,
    ];

    /// The phase's name, which is also the id of its Cedar action.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Artifact => "artifact",
            Phase::Request => "request",
            Phase::Execution => "execution",
            Phase::Response => "response",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The seven claim types an auditor may declare; their snake_case names are a public contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimType {
    ScoreNormalized,
    Boolean,
    String,
    StringList,
    Count,
    DurationMs,
    Object,
}

impl ClaimType {
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

    /// The Cedar schema type a claim of this type is exposed as; `None` for objects, which are
    /// not exposed to policies (their shape is the auditor's business, not the policy's).
    pub fn cedar_type(self) -> Option<&'static str> {
        match self {
            ClaimType::ScoreNormalized => Some("decimal"),
            ClaimType::Boolean => Some("Bool"),
            ClaimType::String => Some("String"),
            ClaimType::StringList => Some("Set<String>"),
            ClaimType::Count | ClaimType::DurationMs => Some("Long"),
            ClaimType::Object => None,
        }
    }
}

impl std::fmt::Display for ClaimType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A claim's value. Serialised like the host's claims: `{"type": "count", "value": 3}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum ClaimValue {
    ScoreNormalized(f64),
    Boolean(bool),
    String(String),
    StringList(Vec<String>),
    Count(u64),
    DurationMs(u64),
    Object(serde_json::Value),
}

impl ClaimValue {
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
}

/// One claim given to a decision: `{"name": "pii_count", "type": "count", "value": 2}` (other
/// fields of the host's claim JSON, such as `confidence`, are ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    pub name: String,
    #[serde(flatten)]
    pub value: ClaimValue,
}

impl Claim {
    pub fn new(name: impl Into<String>, value: ClaimValue) -> Self {
        Claim {
            name: name.into(),
            value,
        }
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

/// Who is asking: an agent, in a workspace, in an org. Each becomes a Cedar entity
/// (`Agent::"…"` in `Workspace::"…"` in `Org::"…"`), so `principal in Org::"acme"` matches every
/// agent of the org.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    pub org: String,
    pub workspace: String,
    pub agent: String,
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
