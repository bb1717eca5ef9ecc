//! `lucid passport show AR_HASH`: the AI Passport of one exchange — its decision and reasons,
//! the auditors' claims, the receipt's signature and place in the chain, the content binding,
//! the attestation behind the signer and the measurements — read from a gateway's API (`--url`)
//! or from the evidence store, checked here, and printed for a person (or as JSON).
//!
//! The facts are gathered into one JSON object first; the human summary is rendered from it, so
//! both forms say the same thing.

use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

use super::{PassportShowArgs, emit};
use lucid::attestation::Attestation;
use lucid::evidence::Access;
use lucid::passport::{Kept, Sources, binding_hash_of_ar, facts, lowercase_hash};

/// Largest answer read from the evidence and chain endpoints (an AR core is at most 4 MiB; a
/// chain report lists every ar_hash of the chain).
const MAX_EVIDENCE: usize = 64 << 20;
/// Largest attestation document read (a report with its certificates is ~10 KiB).
const MAX_REPORT: usize = lucid::attestation::MAX_REPORT_DOC_BYTES;
/// Width of the labels of the human summary.
const LABEL: usize = 20;

pub fn show(args: &PassportShowArgs) -> anyhow::Result<ExitCode> {
    let hash = args.ar_hash.trim().to_ascii_lowercase();
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!(
            "'{}' is not an ar_hash: expected 64 hex characters (the x-lucid-ar-hash header)",
            args.ar_hash
        );
    }
    let sources = match &args.url {
        Some(url) => from_gateway(url, &hash, args.admin_token.as_deref())?,
        None => from_store(args, &hash)?,
    };
    let passport = facts(&hash, &sources);
    if args.json {
        emit(&serde_json::to_string_pretty(&passport)?);
    } else {
        emit(render(&passport).trim_end());
    }
    Ok(if passport["verified"] == true {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

// ---------------------------------------------------------------------------------------------
// Sources

fn from_gateway(url: &str, hash: &str, token: Option<&str>) -> anyhow::Result<Sources> {
    let base = url.trim_end_matches('/').trim_end_matches("/v1");
    let get = |path: &str, max: usize| {
        let target = format!("{base}{path}");
        super::http_get(&target, url, token, max).map(|(status, body)| (target, status, body))
    };
    let admin_json = |path: &str| -> anyhow::Result<Value> {
        let (target, status, body) = get(path, MAX_EVIDENCE)?;
        if status == hyper::StatusCode::NOT_FOUND {
            bail!("no AR {hash} at {base}");
        }
        if status == hyper::StatusCode::UNAUTHORIZED {
            bail!(
                "{base} needs its admin token for {path}: pass --admin-token TOKEN (or set LUCID_ADMIN_TOKEN)"
            );
        }
        if !status.is_success() {
            bail!("{target} answered {status}: {}", error_message(&body));
        }
        serde_json::from_slice(&body).with_context(|| format!("{target} did not answer JSON"))
    };
    let evidence = admin_json(&format!("/v1/evidence/{hash}"))?;
    let ar = evidence
        .get("ar")
        .cloned()
        .with_context(|| format!("{base}/v1/evidence/{hash} has no 'ar'"))?;
    let chain = admin_json(&format!("/v1/attestation-chain/{hash}"))?;
    let kept = match binding_hash_of_ar(&ar) {
        None => Kept::NoBinding,
        Some(binding) => match get(
            &format!("/v1/attestation?binding_hash={binding}"),
            MAX_REPORT,
        ) {
            Err(e) => Kept::Unavailable(super::error_line(&e)),
            Ok((_, status, _)) if status == hyper::StatusCode::NOT_FOUND => Kept::Missing,
            Ok((target, status, body)) if !status.is_success() => Kept::Unavailable(format!(
                "{target} answered {status}: {}",
                error_message(&body)
            )),
            Ok((target, _, body)) => match serde_json::from_slice::<Attestation>(&body) {
                Ok(a) => Kept::Report(Box::new(a)),
                Err(e) => Kept::Invalid(format!("{target} is not an attestation document: {e}")),
            },
        },
    };
    Ok(Sources {
        ar,
        chain,
        kept,
        kind: "gateway",
        location: base.to_string(),
    })
}

/// The message of a gateway's error body (`{"error": {"message"}}`), else the body's start.
fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned())
}

fn from_store(args: &PassportShowArgs, hash: &str) -> anyhow::Result<Sources> {
    let hint = "pass --data-dir DIR, --db PATH, --store URL or --url URL";
    let mut store: Box<dyn lucid::evidence::EvidenceStore> = match (&args.db, &args.store.store) {
        (Some(db), _) => {
            if !db.is_file() {
                bail!("no evidence database at {} ({hint})", db.display());
            }
            Box::new(lucid::evidence::SqliteStore::open(db)?)
        }
        (None, url) => {
            let db = args.store.data_dir.join("evidence.db");
            if url.is_none() && !db.is_file() {
                bail!("no evidence database at {} ({hint})", db.display());
            }
            lucid::evidence::open(
                url.as_deref(),
                &args.store.data_dir,
                &args.store.replica,
                Access::Read,
            )?
        }
    };
    let location = store.location();
    let Some(chain) = lucid::evidence::chain_ending_at(store.as_mut(), hash, usize::MAX)? else {
        bail!("no AR {hash} in {location}");
    };
    let Some(ar) = chain.last().cloned() else {
        bail!("no AR {hash} in {location}");
    };
    let reports = args.store.data_dir.join("attestation").join("reports");
    let mut report = serde_json::to_value(lucid::evidence::verify_stored(&chain))?;
    report["keys"] = Value::from(lucid::attestation::keys_of(&chain, |binding| {
        report_status(binding, &reports)
    }));
    let kept = match binding_hash_of_ar(&ar) {
        None => Kept::NoBinding,
        Some(binding) => read_kept(&reports, &binding),
    };
    Ok(Sources {
        ar,
        chain: report,
        kept,
        kind: "store",
        location,
    })
}

/// `<reports>/<binding_hash>.json`, read within [`MAX_REPORT`].
fn read_kept(reports: &Path, binding_hash: &str) -> Kept {
    let path = reports.join(format!("{binding_hash}.json"));
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Kept::Missing,
        Err(e) => return Kept::Unavailable(format!("cannot read {}: {e}", path.display())),
    };
    let mut bytes = Vec::new();
    if let Err(e) = file.take(MAX_REPORT as u64 + 1).read_to_end(&mut bytes) {
        return Kept::Unavailable(format!("cannot read {}: {e}", path.display()));
    }
    if bytes.len() > MAX_REPORT {
        return Kept::Invalid(format!(
            "{} is larger than {MAX_REPORT} bytes",
            path.display()
        ));
    }
    match serde_json::from_slice::<Attestation>(&bytes) {
        Ok(a) => Kept::Report(Box::new(a)),
        Err(e) => Kept::Invalid(format!(
            "{} is not an attestation document: {e}",
            path.display()
        )),
    }
}

/// The report status of one binding of a chain read from a store (see
/// [`lucid::attestation::keys_of`], the shape of the gateway's `/v1/attestation-chain`).
fn report_status(binding: Option<&str>, reports: &Path) -> Value {
    match binding.and_then(lowercase_hash) {
        None => json!({"status": "none"}),
        Some(hash) => match read_kept(reports, &hash) {
            Kept::Report(a) if a.binding_hash == hash => json!({
                "status": "attested", "mode": a.mode, "generated_at": a.generated_at,
            }),
            Kept::Unavailable(_) => json!({"status": "unavailable"}),
            _ => json!({"status": "missing"}),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// The human summary

struct Text(String);

impl Text {
    fn section(&mut self, title: &str) {
        self.0.push('\n');
        self.0.push_str(title);
        self.0.push('\n');
    }

    fn line(&mut self, label: &str, value: impl AsRef<str>) {
        self.0
            .push_str(&format!("  {label:<LABEL$} {}\n", value.as_ref()));
    }

    fn raw(&mut self, text: &str) {
        self.0.push_str(text);
        self.0.push('\n');
    }
}

/// A JSON value as text: strings bare, null as `-`.
fn show_value(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn yes_no(v: &Value) -> &'static str {
    match v {
        Value::Bool(true) => "yes",
        Value::Bool(false) => "NO",
        _ => "-",
    }
}

fn list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(show_value).collect())
        .unwrap_or_default()
}

fn render(p: &Value) -> String {
    let mut t = Text(String::new());
    t.raw(&format!(
        "AI Passport of exchange {}",
        show_value(&p["ar_hash"])
    ));
    t.raw(&"=".repeat(24 + 64));
    let attestation = &p["attestation"];
    let verdict = match (p["verified"] == true, attestation["report_present"] == true) {
        (false, _) => "NOT VERIFIED".to_string(),
        (true, false) => {
            "VERIFIED: the receipt and its chain check out (no attestation report to check)".into()
        }
        (true, true) if attestation["amd_root_verified"] == true => {
            "VERIFIED: the receipt, its chain and the AMD SEV-SNP signature check out (compare the launch measurement with the image you expect)".into()
        }
        (true, true) => {
            "VERIFIED (MOCK attestation): the receipt and its chain check out; the report is a mock"
                .into()
        }
    };
    t.line("Verdict", verdict);
    for problem in list(&p["problems"]) {
        t.line("", format!("! {problem}"));
    }
    for warning in list(&p["warnings"]) {
        t.line("", format!("* {warning}"));
    }
    t.line(
        "Read from",
        format!(
            "{} {}",
            show_value(&p["source"]["kind"]),
            show_value(&p["source"]["location"])
        ),
    );

    let x = &p["exchange"];
    t.section("Exchange");
    t.line("Decision", show_value(&x["decision"]).to_ascii_uppercase());
    t.line("Request id", show_value(&x["request_id"]));
    t.line("Time", show_value(&x["timestamp"]));
    let scope = &x["scope"];
    t.line(
        "Scope",
        format!(
            "org {} / workspace {} / agent {}",
            show_value(&scope["org"]),
            show_value(&scope["workspace"]),
            show_value(&scope["agent"])
        ),
    );
    if !x["event"].is_null() {
        t.line("Event", show_value(&x["event"]));
    }
    if !x["evidence_omitted"].is_null() {
        t.line(
            "Evidence omitted",
            format!("claims left out (bound by hash): {}", x["evidence_omitted"]),
        );
    }

    let phases = p["phases"].as_array().cloned().unwrap_or_default();
    t.section("Why (the policy's decision per phase)");
    if phases.is_empty() {
        t.line("", "no phases");
    }
    for phase in &phases {
        let reasons = list(&phase["reasons"]);
        let errors = list(&phase["errors"]);
        t.line(
            &show_value(&phase["phase"]),
            format!(
                "{:<5}  {}",
                show_value(&phase["decision"]),
                if reasons.is_empty() {
                    "no reasons given".to_string()
                } else {
                    format!("reasons: {}", reasons.join(", "))
                }
            ),
        );
        for e in errors {
            t.line("", format!("       error: {e}"));
        }
        for rule in phase["redact"].as_array().into_iter().flatten() {
            t.line(
                "",
                format!(
                    "       masked by: {} (claim {})",
                    show_value(&rule["policy"]),
                    show_value(&rule["claim"])
                ),
            );
        }
    }

    let redactions = p["redactions"].as_array().cloned().unwrap_or_default();
    if !redactions.is_empty() {
        t.section("Masked (what the gateway redacted, never the values)");
        for record in &redactions {
            let spans = record["spans"].as_array().cloned().unwrap_or_default();
            t.line(
                &show_value(&record["phase"]),
                format!(
                    "{} stretch{}; before {} after {}",
                    spans.len(),
                    if spans.len() == 1 { "" } else { "es" },
                    short_hash(&record["before"]),
                    short_hash(&record["after"])
                ),
            );
            for span in &spans {
                t.line(
                    "",
                    format!(
                        "  {} bytes {}..{} of {}: {} by {} ({})",
                        list(&span["kinds"]).join("+"),
                        span["start"],
                        span["end"],
                        show_value(&span["field"]),
                        show_value(&span["style"]),
                        list(&span["auditors"]).join(", "),
                        list(&span["policies"]).join(", ")
                    ),
                );
            }
        }
    }

    t.section("Claims (what the auditors found)");
    for phase in &phases {
        let claims = phase["claims"].as_array().cloned().unwrap_or_default();
        t.raw(&format!(
            "  {} ({} claim{})",
            show_value(&phase["phase"]),
            claims.len(),
            if claims.len() == 1 { "" } else { "s" }
        ));
        if claims.is_empty() {
            continue;
        }
        let rows: Vec<[String; 5]> = claims
            .iter()
            .map(|c| {
                [
                    show_value(&c["auditor"]),
                    show_value(&c["name"]),
                    show_value(&c["type"]),
                    show_value(&c["value"]),
                    c["confidence"]
                        .as_f64()
                        .map_or("-".into(), |f| format!("{f:.2}")),
                ]
            })
            .collect();
        let head = ["AUDITOR", "CLAIM", "TYPE", "VALUE", "CONFIDENCE"];
        let mut widths = head.map(|h| h.chars().count());
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let fmt_row = |cells: [&str; 5]| {
            let mut line = String::from("    ");
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                if i == 4 {
                    line.push_str(cell);
                } else {
                    let pad = w - cell.chars().count();
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad + 2));
                }
            }
            line
        };
        t.raw(&fmt_row(head));
        for row in &rows {
            t.raw(&fmt_row([&row[0], &row[1], &row[2], &row[3], &row[4]]));
        }
    }

    let c = &p["chain"];
    t.section("Chain (this receipt's place in the hash chain)");
    t.line("Depth", show_value(&c["chain_depth"]));
    t.line(
        "Previous receipt",
        match &c["previous_ar_hash"] {
            Value::Null => "none (the chain's first receipt)".into(),
            v => show_value(v),
        },
    );
    t.line(
        "Chain verifies",
        format!(
            "{} ({} receipts from the first to this one)",
            yes_no(&c["valid"]),
            show_value(&c["length"])
        ),
    );
    if let Some(errors) = c["errors"].as_array() {
        for e in errors {
            t.line(
                "",
                format!(
                    "! at {}: {}",
                    show_value(&e["ar_hash"]),
                    show_value(&e["reason"])
                ),
            );
        }
    }
    let splices = c["splices"].as_array().cloned().unwrap_or_default();
    t.line(
        "Splices",
        if splices.is_empty() {
            "none (one signing key throughout)".to_string()
        } else {
            format!("{} (the signing key changed)", splices.len())
        },
    );
    for s in &splices {
        t.line(
            "",
            format!(
                "at depth {}: key {} took over from {}",
                show_value(&s["chain_depth"]),
                short_hash(&s["public_key"]),
                short_hash(&s["previous_public_key"])
            ),
        );
    }
    for key in c["signers"].as_array().cloned().unwrap_or_default() {
        let reports: Vec<String> = key["bindings"]
            .as_array()
            .map(|b| {
                b.iter()
                    .map(|b| {
                        let r = &b["report"];
                        match r["mode"].as_str() {
                            Some(mode) => format!("{} ({mode})", show_value(&r["status"])),
                            None => show_value(&r["status"]),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        t.line(
            "Signer",
            format!(
                "{} depths {}..{}, {} receipt{}, report: {}",
                short_hash(&key["public_key"]),
                show_value(&key["first_depth"]),
                show_value(&key["last_depth"]),
                show_value(&key["ars"]),
                if key["ars"] == 1 { "" } else { "s" },
                if reports.is_empty() {
                    "-".into()
                } else {
                    reports.join(", ")
                }
            ),
        );
    }

    let s = &p["signature"];
    t.section("Signature");
    t.line(
        "Signature",
        match &s["error"] {
            Value::Null => "valid (Ed25519 over the receipt's canonical bytes)".to_string(),
            e => format!("INVALID: {}", show_value(e)),
        },
    );
    t.line("Signer public key", show_value(&s["public_key"]));
    t.line("Receipt component", show_value(&s["receipt_sha256"]));

    let content = &p["content"];
    t.section("Content binding (commitments to the exact bytes)");
    if content["present"] == true {
        t.line("Present", "yes");
        t.line("Commitment", show_value(&content["commitment"]));
        t.line("Request", show_value(&content["request"]));
        t.line(
            "Response",
            format!(
                "{} ({} bytes)",
                show_value(&content["response"]),
                show_value(&content["response_bytes"])
            ),
        );
        t.line(
            "Stream",
            if content["stream"] == true {
                format!("yes, mode {}", show_value(&content["stream_mode"]))
            } else {
                "no".into()
            },
        );
        t.line(
            "Cut short",
            if content["cut"] == true { "YES" } else { "no" },
        );
    } else {
        t.line("Present", "no");
    }

    let a = &p["attestation"];
    t.section("Attestation (what vouches for the signer)");
    let mode = show_value(&a["mode"]);
    t.line(
        "Mode",
        if a["mode"] == "mock" {
            "MOCK (proves nothing about the hardware)".to_string()
        } else {
            mode
        },
    );
    t.line("TEE", show_value(&a["tee"]));
    t.line(
        "Report",
        if a["report_present"] == true {
            format!("yes, made {}", show_value(&a["generated_at"]))
        } else {
            format!("no ({})", show_value(&a["report_status"]))
        },
    );
    if a["report_present"] == true {
        t.line(
            "AMD root verified",
            yes_no(&a["amd_root_verified"]).to_lowercase(),
        );
        t.line(
            "Report verifies",
            match (&a["ok"], a["verdict_mode"].as_str()) {
                (Value::Bool(true), Some("mock")) => "yes, against its own (MOCK) chain".into(),
                (Value::Bool(true), _) => "yes".to_string(),
                _ => "NO".to_string(),
            },
        );
        t.line(
            "Launch measurement",
            format!("{} (not checked here)", show_value(&a["measurement"])),
        );
        for f in a["failed_checks"].as_array().cloned().unwrap_or_default() {
            t.line(
                "",
                format!("! {}: {}", show_value(&f["name"]), show_value(&f["detail"])),
            );
        }
        t.line(
            "Report binding",
            match &a["report_binding_matches"] {
                Value::Bool(true) => "matches this receipt's binding_hash",
                Value::Bool(false) => "DOES NOT match this receipt's binding_hash",
                _ => "-",
            },
        );
    }
    t.line("Binding hash", show_value(&a["binding_hash"]));
    t.line(
        "Binding recomputes",
        match &a["binding_recomputes"] {
            Value::Bool(true) => "yes (from the receipt's own fields)",
            Value::Bool(false) => "NO",
            _ => "- (the receipt has no binding)",
        },
    );

    let m = &p["measurements"];
    t.section("Measurements (SHA-256 of what judged the exchange)");
    t.line("Policy", show_value(&m["policy_hash"]));
    t.line("Plugin set", show_value(&m["plugin_set_hash"]));
    t.line("Config", show_value(&m["config_hash"]));
    t.line("Host binary", show_value(&m["host_sha256"]));
    t.line("Settings", show_value(&m["settings_hash"]));
    let auditors: Map<String, Value> = m["auditors"].as_object().cloned().unwrap_or_default();
    if auditors.is_empty() {
        t.line("Auditors", "none");
    }
    for (i, (id, sha)) in auditors.iter().enumerate() {
        t.line(
            if i == 0 { "Auditors" } else { "" },
            format!("{id:<16} {}", show_value(sha)),
        );
    }
    t.0
}

/// The first 16 hex digits of a key or hash, for lines that name several.
fn short_hash(v: &Value) -> String {
    match v.as_str() {
        Some(s) if s.len() > 16 => match s.get(..16) {
            Some(head) => format!("{head}…"),
            None => format!("{}…", s.chars().take(16).collect::<String>()),
        },
        _ => show_value(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsigned_ar_without_a_report_is_not_verified_and_says_why() {
        let sources = Sources {
            ar: json!({"ar_hash": "0".repeat(64), "decision": "deny", "phases": []}),
            chain: json!({"valid": false, "length": 1, "errors": [{"ar_hash": null, "index": 0, "reason": "bad"}]}),
            kept: Kept::NoBinding,
            kind: "store",
            location: "test".into(),
        };
        let p = facts(&"0".repeat(64), &sources);
        assert_eq!(p["verified"], false);
        assert_eq!(p["signature"]["valid"], false);
        assert_eq!(p["attestation"]["report_present"], false);
        assert_eq!(p["content"]["present"], false);
        let text = render(&p);
        assert!(text.contains("NOT VERIFIED"), "{text}");
        assert!(text.contains("! at -: bad"), "{text}");
        assert!(
            text.contains("Report               no (no binding"),
            "{text}"
        );
    }
}
