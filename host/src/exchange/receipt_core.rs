//! Building the evidence *core* of an exchange: every AttestationResult field the host provides
//! (format `lucid-ar/1`, see `receipt/format`). The receipt signer adds the chain fields, hashes
//! and signs.

use std::time::SystemTime;

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq};
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

/// What judged the exchange.
pub use crate::runtime::Measurements;

/// A fresh identifier: `prefix`, `_`, 24 random hex digits.
pub fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes.copy_from_slice(&nanos.to_le_bytes()[..12]);
    }
    format!("{prefix}_{}", hex::encode(bytes))
}

/// The core of a change of one scope's overrides (an AR in the same chain as the exchanges, so
/// that the settings that judged later exchanges have a signed history): `event:
/// "overrides_changed"`, no phases, `decision: "allow"` (the change was accepted), the overrides
/// as submitted, and the scope's effective settings after the change with their hash (the
/// `settings_hash` its later exchanges carry).
pub fn settings_change(
    id: &str,
    at: SystemTime,
    scope: &Scope,
    policy_hash: &str,
    measurements: &Measurements,
    overrides: Value,
    effective: Value,
) -> Value {
    let settings_hash = lucid_ar::sha256_hex(&lucid_ar::canonical_bytes(&effective));
    json!({
        "version": lucid_ar::VERSION,
        "request_id": id,
        "timestamp": timestamp(at),
        "scope": scope,
        "phases": [],
        "decision": Effect::Allow,
        "policy_hash": policy_hash,
        "measurements": measurements,
        "event": "overrides_changed",
        "overrides": overrides,
        "settings": effective,
        "settings_hash": settings_hash,
    })
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
    extra: &Map<String, Value>,
) -> Value {
    let core = Core::new(
        request_id,
        at,
        scope,
        phases,
        policy_hash,
        measurements,
        extra,
    );
    core.to_value()
}

/// The fields of a core, borrowed: written as text ([`Core::to_text`], the hot path) or as a
/// JSON value ([`Core::to_value`]) without building anything else first.
pub struct Core<'a> {
    request_id: &'a str,
    timestamp: String,
    scope: &'a Scope,
    phases: &'a [PhaseEvidence],
    decision: Effect,
    policy_hash: &'a str,
    measurements: &'a Measurements,
    extra: &'a Map<String, Value>,
}

/// The fields [`Core`] writes itself; an `extra` field of the same name is left out.
const CORE_FIELDS: &[&str] = &[
    "version",
    "request_id",
    "timestamp",
    "scope",
    "phases",
    "decision",
    "policy_hash",
    "measurements",
];

impl<'a> Core<'a> {
    pub fn new(
        request_id: &'a str,
        at: SystemTime,
        scope: &'a Scope,
        phases: &'a [PhaseEvidence],
        policy_hash: &'a str,
        measurements: &'a Measurements,
        extra: &'a Map<String, Value>,
    ) -> Self {
        let decision =
            if phases.iter().all(|p| p.decision.effect == Effect::Allow) && !phases.is_empty() {
                Effect::Allow
            } else {
                Effect::Deny
            };
        Core {
            request_id,
            timestamp: timestamp(at),
            scope,
            phases,
            decision,
            policy_hash,
            measurements,
            extra,
        }
    }

    /// The core as JSON text.
    pub fn to_text(&self) -> String {
        // Maps with string keys, strings, numbers, and claim values checked when they arrived:
        // nothing here can fail to serialize.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The core as a JSON value (to be reshaped, as [`shrink`] does).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl Serialize for Core<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("version", lucid_ar::VERSION)?;
        map.serialize_entry("request_id", self.request_id)?;
        map.serialize_entry("timestamp", &self.timestamp)?;
        map.serialize_entry("scope", self.scope)?;
        map.serialize_entry("phases", &Phases(self.phases))?;
        map.serialize_entry("decision", &self.decision)?;
        map.serialize_entry("policy_hash", self.policy_hash)?;
        map.serialize_entry("measurements", self.measurements)?;
        for (k, v) in self.extra {
            if !CORE_FIELDS.contains(&k.as_str()) {
                map.serialize_entry(k, v)?;
            }
        }
        map.end()
    }
}

/// `[{"phase", "claims", "decision"}, …]`.
struct Phases<'a>(&'a [PhaseEvidence]);

impl Serialize for Phases<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for p in self.0 {
            seq.serialize_element(&PhaseOut(p))?;
        }
        seq.end()
    }
}

struct PhaseOut<'a>(&'a PhaseEvidence);

impl Serialize for PhaseOut<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("phase", &self.0.phase)?;
        map.serialize_entry("claims", &self.0.claims)?;
        map.serialize_entry("decision", &self.0.decision)?;
        map.end()
    }
}

/// A core over the signer's limit ([`lucid_ar::MAX_CORE_BYTES`], `bytes` long), made to fit: the
/// claims of every phase are left out and bound by their hash, count and the core's size
/// (`evidence_omitted`), the settings' values are left out (`settings_hash` stays), and the
/// decision is `deny`. Only host-side data too large for any receipt makes this fail (guests
/// are bounded by the exchange's evidence budget).
pub fn shrink(mut core: Value, claims: &[Value], bytes: usize) -> Result<String, String> {
    if let Some(phases) = core.get_mut("phases").and_then(Value::as_array_mut) {
        for phase in phases {
            phase["claims"] = json!([]);
        }
    }
    if let Some(obj) = core.as_object_mut() {
        obj.remove("settings");
        obj.insert("decision".into(), json!(Effect::Deny));
        obj.insert(
            "evidence_omitted".into(),
            json!({
                "bytes": bytes,
                "claims": claims.len(),
                "claims_hash": lucid_ar::claims_hash(claims),
            }),
        );
    }
    let text = core.to_string();
    if text.len() > lucid_ar::MAX_CORE_BYTES {
        return Err(format!(
            "the evidence core is {} bytes even without its claims; at most {} are accepted",
            text.len(),
            lucid_ar::MAX_CORE_BYTES
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn the_core_text_is_the_core_and_extra_fields_cannot_replace_core_fields() {
        use crate::policy::PhaseDecision;
        use crate::runtime::claim::{Claim, ClaimValue};
        let scope = Scope {
            org: "o".into(),
            workspace: "w".into(),
            agent: "a".into(),
        };
        let m = Measurements {
            auditors: BTreeMap::from([("pii".to_string(), "1".repeat(64))]),
            plugin_set_hash: "0".repeat(64),
            config_hash: Some("2".repeat(64)),
            host_sha256: None,
            settings_hash: None,
        };
        let phases = vec![PhaseEvidence {
            phase: Phase::Request,
            claims: vec![AttributedClaim {
                auditor: "pii".into(),
                auditor_sha256: "1".repeat(64),
                claim: Claim {
                    name: "pii.found".into(),
                    value: ClaimValue::StringList(vec!["email".into()]),
                    confidence: 0.9,
                    metadata: Some(json!({"spans": [[1, 2]]})),
                    spans: Vec::new(),
                },
            }],
            decision: PhaseDecision {
                effect: Effect::Allow,
                reasons: vec!["p".into()],
                errors: vec![],
                redact: Vec::new(),
            },
        }];
        let mut extra = Map::new();
        extra.insert("stream_mode".into(), json!("buffer"));
        extra.insert("decision".into(), json!("allow-me"));
        let at = SystemTime::UNIX_EPOCH;
        let text = Core::new("req_1", at, &scope, &phases, "3", &m, &extra).to_text();
        let value = core("req_1", at, &scope, &phases, "3", &m, &extra);
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), value);
        assert_eq!(value["decision"], "allow");
        assert_eq!(value["stream_mode"], "buffer");
        assert_eq!(value["phases"][0]["claims"][0]["value"], json!(["email"]));
        assert_eq!(
            value["phases"][0]["claims"][0]["metadata"]["spans"][0][1],
            2
        );
    }

    #[test]
    fn an_oversized_core_is_shrunk_to_a_signable_denial_binding_its_claims_by_hash() {
        let scope = Scope {
            org: "o".into(),
            workspace: "w".into(),
            agent: "a".into(),
        };
        let m = Measurements {
            auditors: BTreeMap::from([("fat".to_string(), "1".repeat(64))]),
            plugin_set_hash: "0".repeat(64),
            config_hash: None,
            host_sha256: None,
            settings_hash: None,
        };
        let claim = json!({
            "auditor": "fat", "auditor_sha256": "1".repeat(64), "name": "blob",
            "type": "string", "value": "\u{1}".repeat(lucid_ar::MAX_CORE_BYTES / 5),
            "confidence": 1.0,
        });
        let phases: Vec<Value> = vec![json!({
            "phase": "request",
            "claims": [claim.clone()],
            "decision": {"effect": "allow", "reasons": ["p"], "errors": []},
        })];
        let mut extra = Map::new();
        extra.insert("settings".into(), json!({"fat": {"k": "v"}}));
        extra.insert("settings_hash".into(), json!("2".repeat(64)));
        let policy_hash = "4".repeat(64);
        let mut full = core(
            "r",
            SystemTime::UNIX_EPOCH,
            &scope,
            &[],
            &policy_hash,
            &m,
            &extra,
        );
        full["phases"] = json!(phases);
        full["decision"] = json!("allow");
        let bytes = full.to_string().len();
        assert!(bytes > lucid_ar::MAX_CORE_BYTES);

        let text = shrink(full, std::slice::from_ref(&claim), bytes).unwrap();
        let shrunk: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(shrunk["decision"], "deny");
        assert_eq!(shrunk["phases"][0]["claims"], json!([]));
        assert_eq!(shrunk["evidence_omitted"]["bytes"], bytes);
        assert_eq!(shrunk["evidence_omitted"]["claims"], 1);
        assert_eq!(
            shrunk["evidence_omitted"]["claims_hash"],
            lucid_ar::claims_hash(&[claim])
        );
        assert!(shrunk.get("settings").is_none());
        assert_eq!(shrunk["settings_hash"], "2".repeat(64));
        // The signer takes it.
        let mut seed = [7u8; 32];
        seed[0] = 1;
        let mut signer = lucid_ar::ChainSigner::new(&mut seed, &"3".repeat(64)).unwrap();
        let ar: Value = serde_json::from_str(&signer.sign(&text).unwrap()).unwrap();
        lucid_ar::verify_single(&ar).unwrap();
    }

    #[test]
    fn a_core_too_large_even_without_claims_is_refused() {
        let core = json!({"request_id": "x".repeat(lucid_ar::MAX_CORE_BYTES + 1), "phases": []});
        let err = shrink(core, &[], lucid_ar::MAX_CORE_BYTES + 40).unwrap_err();
        assert!(err.contains("even without its claims"), "{err}");
    }

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
            config_hash: None,
            host_sha256: None,
            settings_hash: None,
        };
        let phase = |effect| PhaseEvidence {
            phase: Phase::Request,
            claims: vec![],
            decision: PhaseDecision {
                effect,
                reasons: vec![],
                errors: vec![],
                redact: Vec::new(),
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
            &Map::new(),
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
            &Map::new(),
        );
        assert_eq!(deny["decision"], "deny");
        assert_eq!(
            core("r", at, &scope, &[], "p", &m, &Map::new())["decision"],
            "deny"
        );
    }
}
