use std::path::PathBuf;

use lucid_policy::{
    AuditorVocabulary, Claim, ClaimType, ClaimValue, Coverage, DecisionRequest, Engine, Phase,
    PolicySet, Schema, Scope,
};

/// The repository's `policies/` directory.
pub fn policies_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

pub fn shipped_schema() -> Schema {
    Schema::from_vocabularies(&lucid_policy::shipped_vocabularies()).unwrap()
}

/// The shipped auditors plus one auditor whose claim names need quoting and one object claim.
pub fn test_schema() -> Schema {
    let mut vocabularies = lucid_policy::shipped_vocabularies();
    vocabularies.push(AuditorVocabulary::new(
        "odd",
        [
            ("latency.p50", ClaimType::DurationMs),
            ("if", ClaimType::Boolean),
            ("verdict", ClaimType::String),
            ("details", ClaimType::Object),
        ],
    ));
    Schema::from_vocabularies(&vocabularies).unwrap()
}

/// An engine over in-memory policy files, validated against `schema`.
pub fn engine(schema: Schema, files: &[(&str, &str)]) -> Engine {
    let set =
        PolicySet::from_sources(files.iter().map(|(p, t)| (p.to_string(), t.to_string()))).unwrap();
    Engine::new(schema, set).unwrap_or_else(|d| panic!("invalid policies: {d:?}"))
}

pub fn scope(org: &str, workspace: &str, agent: &str) -> Scope {
    Scope {
        org: org.into(),
        workspace: workspace.into(),
        agent: agent.into(),
    }
}

pub fn request(phase: Phase, claims: Vec<(&str, ClaimValue)>) -> DecisionRequest {
    DecisionRequest {
        scope: scope("acme", "research", "triage"),
        phase,
        model: "gpt-4o-mini".into(),
        // Built field by field: `Claim::new` clamps scores, and these tests feed the engine values
        // (NaN, out of range) that only a hostile caller would.
        claims: claims
            .into_iter()
            .map(|(n, v)| Claim {
                name: n.to_string(),
                value: v,
                confidence: 1.0,
                metadata: None,
                spans: Vec::new(),
            })
            .collect(),
        coverage: Coverage {
            ran: vec!["pii".into(), "injection".into(), "token_budget".into()],
            failed: vec![],
        },
    }
}
