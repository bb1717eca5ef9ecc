//! Building the evidence *core* of an exchange: every AttestationResult field the host provides
//! (format `lucid-ar/1`, see `receipt/format`). The receipt signer adds the chain fields, hashes
//! and signs.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::policy::{Effect, PhaseDecision};
use crate::runtime::AttributedClaim;
use crate::runtime::claim::Phase;

/// One phase's claims and decision.
#[derive(Debug, Clone)]
pub struct PhaseEvidence {
    pub phase: Phase,
    pub claims: Vec<AttributedClaim>,
    pub decision: PhaseDecision,
}

/// Who the exchange was for.
pub use lucid_contract::Scope;

/// What was loaded when the exchange was judged.
#[derive(Debug, Clone, Serialize)]
pub struct Measurements {
    pub auditors: BTreeMap<String, String>,
    pub plugin_set_hash: String,
}

/// RFC 3339 UTC timestamp with microseconds.
pub fn timestamp(at: SystemTime) -> String {
    humantime::format_rfc3339_micros(at).to_string()
}

/// The core of an AR. `extra` fields (e.g. `stream_mode`, `upstream_error`) are added at the top
/// level; they are covered by the signature like everything else.
pub fn core(
    request_id: &str,
    at: SystemTime,
    scope: &Scope,
    phases: &[PhaseEvidence],
    policy_hash: &str,
    measurements: &Measurements,
    extra: Map<String, Value>,
) -> Value {
    let overall = if phases.iter().all(|p| p.decision.effect == Effect::Allow) && !phases.is_empty()
    {
        Effect::Allow
    } else {
        Effect::Deny
    };
    let phases: Vec<Value> = phases
        .iter()
        .map(|p| {
            json!({
                "phase": p.phase,
                "claims": p.claims,
                "decision": p.decision,
            })
        })
        .collect();
    let mut core = json!({
        "version": lucid_ar::VERSION,
        "request_id": request_id,
        "timestamp": timestamp(at),
        "scope": scope,
        "phases": phases,
        "decision": overall,
        "policy_hash": policy_hash,
        "measurements": measurements,
    });
    if let Some(obj) = core.as_object_mut() {
        for (k, v) in extra {
            obj.entry(k).or_insert(v);
        }
    }
    core
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overall_decision_is_allow_only_if_every_phase_allows() {
        let scope = Scope {
            org: "o".into(),
            workspace: "w".into(),
            agent: "a".into(),
        };
        let m = Measurements {
            auditors: BTreeMap::new(),
            plugin_set_hash: "0".repeat(64),
        };
        let phase = |effect| PhaseEvidence {
            phase: Phase::Request,
            claims: vec![],
            decision: PhaseDecision {
                effect,
                reasons: vec![],
                errors: vec![],
            },
        };
        let at = SystemTime::UNIX_EPOCH;
        let allow = core(
            "r",
            at,
            &scope,
            &[phase(Effect::Allow)],
            "p",
            &m,
            Map::new(),
        );
        assert_eq!(allow["decision"], "allow");
        assert_eq!(allow["timestamp"], "1970-01-01T00:00:00.000000Z");
        let deny = core(
            "r",
            at,
            &scope,
            &[phase(Effect::Allow), phase(Effect::Deny)],
            "p",
            &m,
            Map::new(),
        );
        assert_eq!(deny["decision"], "deny");
        assert_eq!(
            core("r", at, &scope, &[], "p", &m, Map::new())["decision"],
            "deny"
        );
    }
}
