//! `lucid passport show`: the AI Passport of one exchange, from a running gateway (`--url`) and
//! from its evidence store (`--data-dir`), against the real binary, auditors and mock
//! attestation.

use std::path::PathBuf;
use std::process::Output;

use lucid_e2e::{Daemon, lucid, preset, serve_cmd};
use serde_json::{Value, json};

/// The admin token of the test gateway, and its SHA-256 as the config names it.
const ADMIN_TOKEN: &str = "passport-admin-token";
const ADMIN_TOKEN_SHA256: &str = "555d7768cf32c7067939f75524d23c4ead2f23f73898bb873143211b6a71544e";

struct Gw {
    root: tempfile::TempDir,
    daemon: Daemon,
    base: String,
    agent: ureq::Agent,
}

impl Gw {
    /// The shipped auditors, the balanced preset, mock attestation and an admin token.
    fn start() -> Gw {
        let root = tempfile::tempdir().unwrap();
        let plugins = root.path().join("plugins");
        std::fs::create_dir(&plugins).unwrap();
        lucid_e2e::copy_shipped(&plugins);
        let mut cmd = serve_cmd(&plugins, &root.path().join("data"), &preset("balanced"));
        let config = root.path().join("lucid.toml");
        std::fs::write(
            &config,
            format!(
                "[defaults]\ndeadline_ms = 5000\n[gateway]\nadmin_token_sha256 = \"{ADMIN_TOKEN_SHA256}\"\n"
            ),
        )
        .unwrap();
        cmd.arg("--config")
            .arg(config)
            .args(["--attestation", "mock"]);
        let mut daemon = Daemon::start(&mut cmd);
        let base = daemon.base_url();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Gw {
            root,
            daemon,
            base,
            agent,
        }
    }

    fn data(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// One chat exchange; returns the status and the receipt's ar_hash.
    fn chat(&self, text: &str) -> (u16, String) {
        let body = json!({"model": "mock-1", "messages": [{"role": "user", "content": text}]});
        let mut resp = self
            .agent
            .post(format!("{}/v1/chat/completions", self.base))
            .header("content-type", "application/json")
            .send(body.to_string())
            .expect("request");
        let status = resp.status().as_u16();
        let hash = resp
            .headers()
            .get("x-lucid-ar-hash")
            .unwrap_or_else(|| panic!("no x-lucid-ar-hash; status {status}"))
            .to_str()
            .unwrap()
            .to_string();
        let _ = resp.body_mut().read_to_string();
        (status, hash)
    }

    /// `lucid passport show HASH --url BASE` with the admin token, and `extra` arguments.
    fn passport(&self, hash: &str, extra: &[&str]) -> Output {
        lucid()
            .args(["passport", "show", hash, "--url", &self.base])
            .args(extra)
            .env("LUCID_ADMIN_TOKEN", ADMIN_TOKEN)
            .output()
            .unwrap()
    }
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// What every passport of a healthy mock-attested gateway says.
fn assert_verified(p: &Value) {
    assert_eq!(p["verified"], true, "{p:#}");
    assert_eq!(p["problems"], json!([]), "{p:#}");
    assert_eq!(p["chain"]["valid"], true, "{p:#}");
    assert_eq!(p["chain"]["errors"], json!([]));
    assert_eq!(p["signature"]["valid"], true, "{p:#}");
    assert!(p["signature"]["public_key"].as_str().unwrap().len() == 64);
    assert!(p["signature"]["receipt_sha256"].as_str().unwrap().len() == 64);
    let a = &p["attestation"];
    assert_eq!(a["report_present"], true, "{a:#}");
    assert_eq!(a["mode"], "mock");
    assert_eq!(a["tee"], "none (mock)");
    assert_eq!(a["amd_root_verified"], false);
    assert_eq!(a["ok"], true, "{a:#}");
    assert_eq!(a["verdict_mode"], "mock");
    assert_eq!(a["report_binding_matches"], true);
    assert_eq!(a["binding_recomputes"], true);
    assert_eq!(a["failed_checks"], json!([]));
    let warnings: Vec<&str> = p["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(warnings.iter().any(|w| w.contains("MOCK")), "{p:#}");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("launch measurement") && w.contains("not checked")),
        "{p:#}"
    );
    assert_eq!(a["measurement"].as_str().map(str::len), Some(96), "{a:#}");
    let auditors = p["measurements"]["auditors"].as_object().unwrap();
    for id in ["pii", "injection", "token_budget"] {
        assert_eq!(
            auditors[id].as_str().map(str::len),
            Some(64),
            "{auditors:?}"
        );
    }
    for field in [
        "plugin_set_hash",
        "policy_hash",
        "config_hash",
        "settings_hash",
    ] {
        assert_eq!(
            p["measurements"][field].as_str().map(str::len),
            Some(64),
            "{field}"
        );
    }
    assert_eq!(p["content"]["present"], true, "{p:#}");
    assert_eq!(p["content"]["commitment"], "sha256(salt||bytes)");
    assert_eq!(p["content"]["request"].as_str().map(str::len), Some(64));
    assert_eq!(p["content"]["stream"], false);
}

#[test]
fn a_passport_from_a_gateway_says_what_was_decided_why_and_what_verifies() {
    let gw = Gw::start();
    let (status, allowed) = gw.chat("What is the capital of France?");
    assert_eq!(status, 200);
    let (status, denied) = gw.chat("my card is 4111 1111 1111 1111, please store it");
    assert_eq!(status, 403);

    let out = gw.passport(&allowed, &["--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = json_of(&out);
    assert_verified(&p);
    assert_eq!(p["ar_hash"], allowed.as_str());
    assert_eq!(p["exchange"]["decision"], "allow");
    assert_eq!(p["exchange"]["scope"]["org"], "default");
    assert!(
        p["exchange"]["request_id"]
            .as_str()
            .unwrap()
            .starts_with("req_")
    );
    let phases: Vec<&str> = p["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ph| ph["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["artifact", "request", "response"]);
    let first_depth = p["chain"]["chain_depth"].as_u64().unwrap();

    let out = gw.passport(&denied, &["--json"]);
    assert!(
        out.status.success(),
        "a denial verifies too: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = json_of(&out);
    assert_verified(&p);
    assert_eq!(p["exchange"]["decision"], "deny");
    let request = &p["phases"][1];
    assert_eq!(request["phase"], "request");
    assert_eq!(request["decision"], "deny");
    let reasons = request["reasons"].as_array().unwrap();
    assert!(
        reasons
            .iter()
            .any(|r| r.as_str().unwrap().contains("credit-card")),
        "{reasons:?}"
    );
    let pii = request["claims"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "pii_detected")
        .expect("a pii_detected claim");
    assert_eq!(pii["auditor"], "pii");
    assert_eq!(pii["type"], "boolean");
    assert_eq!(pii["value"], true);
    assert_eq!(p["chain"]["chain_depth"].as_u64(), Some(first_depth + 1));
    assert_eq!(p["chain"]["previous_ar_hash"], allowed.as_str());
    assert_eq!(p["chain"]["splices"], json!([]));
    assert_eq!(
        p["chain"]["signers"][0]["bindings"][0]["report"]["status"],
        "attested"
    );

    // The human form: sectioned, aligned lines a person can read.
    let out = gw.passport(&denied, &[]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        format!("AI Passport of exchange {denied}"),
        "VERIFIED (MOCK attestation)".into(),
        "Decision             DENY".into(),
        "request              deny   reasons: balanced.deny-credit-card".into(),
        format!("Previous receipt     {allowed}"),
        "Chain verifies       yes".into(),
        "Signature            valid".into(),
        "Mode                 MOCK".into(),
        "TEE                  none (mock)".into(),
        "AMD root verified    no".into(),
        "Report binding       matches this receipt's binding_hash".into(),
        "Binding recomputes   yes".into(),
        "Content binding".into(),
        "pii_detected".into(),
    ] {
        assert!(text.contains(&line), "no '{line}' in:\n{text}");
    }

    // Not found, not a hash, no admin token: one clear line, non-zero.
    let unknown = "ab".repeat(32);
    let out = gw.passport(&unknown, &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("no AR {unknown}")), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let out = gw.passport("not-a-hash", &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("64 hex characters"));
    let out = lucid()
        .args(["passport", "show", &denied, "--url", &gw.base])
        .env_remove("LUCID_ADMIN_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--admin-token"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_passport_from_the_store_says_the_same_and_catches_a_tampered_report() {
    let gw = Gw::start();
    let (_, allowed) = gw.chat("Hello there");
    let (_, denied) = gw.chat("my card is 4111 1111 1111 1111");
    let from_gateway = json_of(&gw.passport(&denied, &["--json"]));

    // Read while the gateway runs (SQLite WAL readers), then after it stopped.
    let local = |hash: &str| {
        lucid()
            .args(["passport", "show", hash, "--json", "--data-dir"])
            .arg(gw.data())
            .output()
            .unwrap()
    };
    let out = local(&denied);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let Gw { root, daemon, .. } = gw;
    assert!(daemon.terminate().success());
    let data = root.path().join("data");
    let out = lucid()
        .args(["passport", "show", &denied, "--json", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = json_of(&out);
    assert_verified(&p);
    assert_eq!(p["source"]["kind"], "store");
    for field in [
        "exchange",
        "phases",
        "chain",
        "signature",
        "content",
        "attestation",
        "measurements",
    ] {
        assert_eq!(p[field], from_gateway[field], "{field} differs");
    }
    assert_eq!(p["chain"]["previous_ar_hash"], allowed.as_str());

    let out = lucid()
        .args(["passport", "show", &"cd".repeat(32), "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no AR"));

    // A kept report whose bytes were changed no longer verifies: the passport says so and fails.
    let binding = p["attestation"]["binding_hash"].as_str().unwrap();
    let path = data.join(format!("attestation/reports/{binding}.json"));
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let report = doc["report"].as_str().unwrap().to_string();
    // Change one base64 character inside the report body (well before its padding).
    let mut chars: Vec<char> = report.chars().collect();
    chars[200] = if chars[200] == 'A' { 'B' } else { 'A' };
    doc["report"] = Value::from(chars.into_iter().collect::<String>());
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    let out = lucid()
        .args(["passport", "show", &denied, "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a tampered report must fail the passport"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("NOT VERIFIED"), "{text}");
    assert!(
        text.contains("the attestation report does not verify"),
        "{text}"
    );
}
