//! The AI Passport of one exchange as facts: its decision and reasons, the auditors' claims,
//! the receipt's signature and place in the chain, the content binding, the attestation behind
//! the signer and the measurements — checked here, gathered into one JSON object. The CLI
//! (`lucid passport show`) renders it as text; the gateway's Observer UI renders it as a page.
//! Where the AR, its chain report and the kept report come from is the caller's business.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::attestation::Attestation;
use lucid_attest::{Roots, VerdictMode, VerifyInput};

/// Claim values longer than this (in characters, as displayed) are shortened.
pub const VALUE_CHARS: usize = 64;
/// The checks of `lucid_attest::verify` that together say the VCEK chains to AMD's root.
const ROOT_CHECKS: [&str; 4] = [
    "ark_self_signed",
    "ask_signed_by_ark",
    "vcek_signed_by_ask",
    ROOT_IS_AMD,
];
const ROOT_IS_AMD: &str = "root_is_amd";
/// The report kept for the AR's binding, as found.
pub enum Kept {
    Report(Box<Attestation>),
    /// The AR has no binding_hash (signed before bindings existed).
    NoBinding,
    /// No report is kept for the binding.
    Missing,
    /// The source could not say (a gateway without an attestation provider).
    Unavailable(String),
    /// Something is kept but it is not a report.
    Invalid(String),
}

/// What a passport is made from.
pub struct Sources {
    pub ar: Value,
    /// The chain report (`lucid_ar::ChainReport` as JSON, with `keys`).
    pub chain: Value,
    pub kept: Kept,
    /// `gateway` or `store`, and where.
    pub kind: &'static str,
    pub location: String,
}

/// The AR's `binding_hash` when it is one (64 hex characters), lowercase.
pub fn binding_hash_of_ar(ar: &Value) -> Option<String> {
    lowercase_hash(ar.get("binding_hash")?.as_str()?)
}

/// `hash` lowercased when it is a hash (64 hex characters).
pub fn lowercase_hash(hash: &str) -> Option<String> {
    (hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hash.to_ascii_lowercase())
}

/// Everything the passport says, checked, as one JSON object.
pub fn facts(hash: &str, src: &Sources) -> Value {
    let ar = &src.ar;
    let mut problems: Vec<String> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();

    if ar["ar_hash"].as_str() != Some(hash) {
        problems.push(format!(
            "the source answered an AR whose ar_hash is {}, not {hash}",
            ar["ar_hash"]
        ));
    }

    // Signature (and the AR's own hashes and binding).
    let verified = lucid_ar::verify_single(ar);
    if let Err(e) = &verified {
        problems.push(format!("the receipt does not verify: {e}"));
    }
    let signature = json!({
        "valid": verified.is_ok(),
        "error": verified.as_ref().err().map(|e| e.to_string()),
        "public_key": ar["signer"]["public_key"],
        "receipt_sha256": ar["signer"]["receipt_sha256"],
    });

    // Chain.
    let chain_valid = src.chain["valid"] == true;
    if !chain_valid {
        let n = src.chain["errors"].as_array().map_or(0, Vec::len);
        problems.push(format!(
            "the chain up to this receipt does not verify ({n} error{})",
            if n == 1 { "" } else { "s" }
        ));
    }
    let chain = json!({
        "valid": chain_valid,
        "chain_depth": ar["chain_depth"],
        "previous_ar_hash": ar["ar_references"].get(0),
        "length": src.chain["length"],
        "splices": src.chain.get("splices").cloned().unwrap_or(json!([])),
        "forks": src.chain.get("forks").cloned().unwrap_or(json!([])),
        "errors": src.chain.get("errors").cloned().unwrap_or(json!([])),
        "signers": src.chain.get("keys").cloned().unwrap_or(json!([])),
    });

    let attestation = attestation_facts(ar, &src.kept, &mut problems, &mut warnings);

    let phases: Vec<Value> = ar["phases"]
        .as_array()
        .map(|phases| phases.iter().map(phase_facts).collect())
        .unwrap_or_default();

    let measurements = &ar["measurements"];
    let settings_hash = ar
        .get("settings_hash")
        .filter(|v| !v.is_null())
        .unwrap_or(&measurements["settings_hash"]);

    let content = match ar.get("content") {
        Some(Value::Object(c)) => {
            let mut c = c.clone();
            c.insert("present".into(), true.into());
            Value::Object(c)
        }
        _ => json!({"present": false}),
    };

    json!({
        "ar_hash": hash,
        "verified": problems.is_empty(),
        "problems": problems,
        "warnings": warnings,
        "source": {"kind": src.kind, "location": src.location},
        "exchange": {
            "decision": ar["decision"],
            "request_id": ar["request_id"],
            "timestamp": ar["timestamp"],
            "scope": ar["scope"],
            "event": ar.get("event"),
            "evidence_omitted": ar.get("evidence_omitted"),
        },
        "phases": phases,
        "redactions": ar.get("redactions").cloned().unwrap_or(json!([])),
        "chain": chain,
        "signature": signature,
        "content": content,
        "attestation": attestation,
        "measurements": {
            "auditors": measurements["auditors"],
            "plugin_set_hash": measurements["plugin_set_hash"],
            "policy_hash": ar["policy_hash"],
            "config_hash": measurements["config_hash"],
            "host_sha256": measurements["host_sha256"],
            "settings_hash": settings_hash,
        },
    })
}

fn phase_facts(phase: &Value) -> Value {
    let claims: Vec<Value> = phase["claims"]
        .as_array()
        .map(|claims| {
            claims
                .iter()
                .map(|c| {
                    let (value, truncated) = short_value(&c["value"]);
                    let mut out = json!({
                        "auditor": c["auditor"],
                        "name": c["name"],
                        "type": c["type"],
                        "value": value,
                        "confidence": c["confidence"],
                    });
                    if truncated {
                        out["truncated"] = true.into();
                    }
                    out
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "phase": phase["phase"],
        "decision": phase["decision"]["effect"],
        "reasons": phase["decision"].get("reasons").cloned().unwrap_or(json!([])),
        "errors": phase["decision"].get("errors").cloned().unwrap_or(json!([])),
        "redact": phase["decision"].get("redact").cloned().unwrap_or(json!([])),
        "claims": claims,
    })
}

/// A claim value as it is shown: itself when short, else its text cut to [`VALUE_CHARS`].
pub fn short_value(value: &Value) -> (Value, bool) {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() <= VALUE_CHARS {
        return (value.clone(), false);
    }
    let cut: String = text.chars().take(VALUE_CHARS - 1).collect();
    (Value::String(format!("{cut}…")), true)
}

fn attestation_facts(
    ar: &Value,
    kept: &Kept,
    problems: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Value {
    let claimed = ar.get("binding_hash").and_then(Value::as_str);
    let computed = ar
        .as_object()
        .and_then(lucid_ar::binding_of)
        .map(|b| lucid_ar::binding_hash(&b));
    let binding_recomputes = claimed.map(|c| Some(c) == computed.as_deref());
    let mut out = json!({
        "binding_hash": claimed,
        "binding_recomputes": binding_recomputes,
        "report_present": false,
        "report_status": "none",
        "mode": null,
        "tee": "unknown (no report)",
        "generated_at": null,
        "report_binding_matches": null,
        "amd_root_verified": false,
        "ok": null,
    });
    match kept {
        Kept::NoBinding => {
            out["report_status"] = "no binding (signed before bindings existed)".into();
        }
        Kept::Missing => {
            out["report_status"] = "missing: no report is kept for this binding".into()
        }
        Kept::Unavailable(why) => out["report_status"] = format!("unavailable: {why}").into(),
        Kept::Invalid(why) => {
            out["report_status"] = format!("invalid: {why}").into();
            problems.push(format!("the kept attestation report is unusable: {why}"));
        }
        Kept::Report(report) => {
            out["report_present"] = true.into();
            out["report_status"] = "kept".into();
            out["mode"] = report.mode.as_str().into();
            out["generated_at"] = report.generated_at.clone().into();
            out["tee"] = match report.mode {
                lucid_attest::Mode::SevSnp => "AMD SEV-SNP",
                lucid_attest::Mode::Mock => "none (mock)",
            }
            .into();
            let matches = claimed == Some(report.binding_hash.as_str())
                && lucid_ar::binding_hash(&report.binding) == report.binding_hash;
            out["report_binding_matches"] = matches.into();
            if !matches {
                problems.push(
                    "the kept attestation report is for another binding than this receipt's".into(),
                );
            }
            let verdict = verify_report(report, claimed);
            match verdict {
                Err(why) => {
                    out["ok"] = false.into();
                    out["failed_checks"] = json!([{"name": "report_decodes", "detail": why}]);
                    problems.push(format!("the attestation report does not verify: {why}"));
                }
                Ok(v) => {
                    let passed = |name: &str| v.check(name).is_some_and(|c| c.ok);
                    let amd =
                        v.mode == VerdictMode::Hardware && ROOT_CHECKS.into_iter().all(passed);
                    let failed: Vec<Value> = v
                        .checks
                        .iter()
                        .filter(|c| !c.ok)
                        .map(|c| json!({"name": c.name, "detail": c.detail}))
                        .collect();
                    out["ok"] = v.ok.into();
                    out["verdict_mode"] = json!(v.mode);
                    out["amd_root_verified"] = amd.into();
                    out["root_is_amd"] = json!(v.check(ROOT_IS_AMD));
                    out["failed_checks"] = failed.into();
                    out["verdict_warnings"] = json!(v.warnings);
                    out["measurement"] = json!(v.report.as_ref().map(|r| &r.measurement));
                    // Debug policy, VMPL, the launch measurement not checked: the reader sees
                    // them (the mock warning is said once, below).
                    for w in &v.warnings {
                        if !w.starts_with("mock attestation") {
                            warnings.push(format!("attestation: {w}"));
                        }
                    }
                    if !v.ok {
                        let names: Vec<&str> =
                            v.checks.iter().filter(|c| !c.ok).map(|c| c.name).collect();
                        problems.push(format!(
                            "the attestation report does not verify (failed: {})",
                            names.join(", ")
                        ));
                    }
                    if report.mode == lucid_attest::Mode::SevSnp && v.mode == VerdictMode::Mock {
                        problems.push(
                            "the report says sev-snp but its certificates do not end at AMD's root"
                                .into(),
                        );
                    }
                    if v.mode == VerdictMode::Mock {
                        warnings.push(
                            "MOCK attestation: the report is signed by a chain the gateway made itself; it proves nothing about the hardware"
                                .into(),
                        );
                    }
                }
            }
        }
    }
    out
}

/// `lucid_attest::verify` of a kept report against the AR's binding hash (nonce zeros), with
/// the report's own certificates as roots (an ARK that is not AMD's makes it a mock verdict).
fn verify_report(
    report: &Attestation,
    binding_hash: Option<&str>,
) -> Result<lucid_attest::Verdict, String> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(report.report.trim())
        .map_err(|_| "the report is not base64".to_string())?;
    let pem = |cert: &Option<String>, what: &str| {
        cert.as_ref()
            .map(|p| p.as_bytes().to_vec())
            .ok_or_else(|| format!("the report has no {what} certificate"))
    };
    let vcek = pem(&report.certificates.vcek, "vcek")?;
    let ark = pem(&report.certificates.ark, "ark")?;
    let ask = pem(&report.certificates.ask, "ask")?;
    let binding = binding_hash.and_then(|h| {
        let mut out = [0u8; 32];
        hex::decode_to_slice(h, &mut out).ok().map(|()| out)
    });
    Ok(lucid_attest::verify(&VerifyInput {
        report: &raw,
        vcek: &vcek,
        roots: Roots::Explicit {
            ark: &ark,
            ask: &ask,
        },
        binding_hash: binding,
        nonce: None,
        allow_mock: true,
        measurement: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_claim_values_are_shortened_and_marked() {
        assert_eq!(short_value(&json!(0.5)), (json!(0.5), false));
        assert_eq!(short_value(&json!(["a"])), (json!(["a"]), false));
        let (v, cut) = short_value(&json!("x".repeat(200)));
        assert!(cut);
        assert_eq!(v.as_str().unwrap().chars().count(), VALUE_CHARS);
        assert!(v.as_str().unwrap().ends_with('…'));
    }
}
