//! Attestation against the real binary in mock mode: `report_data` is SHA-256(JCS(binding)) ‖
//! nonce, the binding names the exact plugin files, policy, config and binary, every AR carries
//! the binding hash in force, a restart's new key (a splice) gets a report of its own, and both
//! `lucid attest verify` and the offline Python verifier accept what the gateway serves (and
//! refuse it as mock without `--allow-mock`).

use std::collections::BTreeSet;
use std::path::Path;

use base64::Engine as _;
use lucid_e2e::{Daemon, lucid, lucid_bin, preset, serve_cmd};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Gw, eventually, start};

const NONCE: &str = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";

fn sha256_file(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

fn report_data(doc: &Value) -> Vec<u8> {
    let report = base64::engine::general_purpose::STANDARD
        .decode(doc["report"].as_str().expect("report"))
        .expect("base64 report");
    assert_eq!(report.len(), 0x4A0, "an SEV-SNP report is 0x4A0 bytes");
    report[0x50..0x90].to_vec()
}

fn ar(gw: &Gw, ar_hash: &str) -> Value {
    let reply = gw.get(&format!("/v1/evidence/{ar_hash}"), &[]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let v = reply.json();
    v.get("ar").cloned().unwrap_or(v)
}

#[test]
fn the_mock_report_binds_the_measured_gateway_and_every_ar_names_its_binding() {
    let mut gw = start();
    let allowed = gw.chat("What is the capital of France?");
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    let denied = gw.chat("my card is 4111 1111 1111 1111, please store it");
    assert_eq!(denied.status, 403, "{}", denied.body);

    let reply = gw.get(&format!("/v1/attestation?nonce={NONCE}"), &[]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let doc = reply.json();
    assert_eq!(doc["mode"], "mock");
    assert_eq!(doc["nonce"], NONCE);
    for cert in ["vcek", "ask", "ark"] {
        assert!(
            doc["certificates"][cert]
                .as_str()
                .is_some_and(|p| p.starts_with("-----BEGIN CERTIFICATE-----")),
            "{cert}: {}",
            doc["certificates"]
        );
    }
    // report_data = SHA-256(JCS(binding)) ‖ nonce.
    let binding = &doc["binding"];
    let binding_hash = lucid_ar::sha256_hex(&lucid_ar::canonical_bytes(binding));
    assert_eq!(doc["binding_hash"], binding_hash.as_str());
    let data = report_data(&doc);
    assert_eq!(hex::encode(&data[..32]), binding_hash);
    assert_eq!(hex::encode(&data[32..]), NONCE);

    // The binding names exactly what runs: `sha256sum plugins/*.wasm`, the binary, the config,
    // the policy the answers name.
    let root = gw._root.path();
    let files: BTreeSet<String> = std::fs::read_dir(root.join("plugins"))
        .unwrap()
        .map(|e| sha256_file(&e.unwrap().path()))
        .collect();
    let bound: BTreeSet<String> = binding["auditors"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(bound, files);
    assert_eq!(binding["host_sha256"], sha256_file(&lucid_bin()).as_str());
    assert_eq!(
        binding["config_hash"],
        sha256_file(&root.join("lucid.toml")).as_str()
    );
    assert_eq!(
        binding["policy_hash"],
        allowed.header("x-lucid-cedar-policy-hash")
    );

    // Every AR carries the binding in force, and recomputes it from its own fields.
    for reply in [&allowed, &denied] {
        let ar = ar(&gw, reply.header("x-lucid-ar-hash"));
        assert_eq!(ar["binding_hash"], binding_hash.as_str(), "{ar}");
        assert_eq!(
            lucid_ar::binding_of(ar.as_object().unwrap()).as_ref(),
            Some(binding)
        );
        assert_eq!(binding["receipt_public_key"], ar["signer"]["public_key"]);
    }

    // Without a nonce: the report kept for the binding (nonce zeros); the same by binding hash.
    let kept = gw.get("/v1/attestation", &[]).json();
    assert_eq!(kept["binding_hash"], binding_hash.as_str());
    assert_eq!(report_data(&kept)[32..], [0u8; 32]);
    let by_hash = gw
        .get(&format!("/v1/attestation?binding_hash={binding_hash}"), &[])
        .json();
    assert_eq!(by_hash, kept);
    for bad in [
        "/v1/attestation?nonce=xyz",
        "/v1/attestation?nonce=00",
        "/v1/attestation?binding_hash=zz",
    ] {
        assert_eq!(gw.get(bad, &[]).status, 400, "{bad}");
    }
    assert_eq!(
        gw.get(
            &format!("/v1/attestation?binding_hash={}", "0".repeat(64)),
            &[]
        )
        .status,
        404
    );

    // `lucid attest verify` fetches with its own nonce; a mock report needs --allow-mock.
    let verify = |extra: &[&str]| {
        let out = lucid()
            .args(["attest", "verify", "--url", &gw.base])
            .args(extra)
            .output()
            .unwrap();
        let verdict: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out.status.success(), verdict, out.stderr)
    };
    let (ok, verdict, stderr) = verify(&["--allow-mock", "--nonce", NONCE]);
    assert!(ok, "{verdict:#}\n{}", String::from_utf8_lossy(&stderr));
    assert_eq!(verdict["mode"], "mock");
    assert!(
        verdict["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "report_data_matches" && c["ok"] == true),
        "{verdict:#}"
    );
    let (ok, verdict, _) = verify(&[]);
    assert!(
        !ok,
        "a mock report passed without --allow-mock: {verdict:#}"
    );

    // A new plugin set is a new binding: the ARs signed under it name it, and it is attested
    // by the time their answer arrives, without anyone asking.
    std::fs::copy(
        lucid_e2e::guest("empty"),
        root.join("plugins").join("empty.wasm"),
    )
    .unwrap();
    eventually("the new plugin set is loaded", || {
        gw.get("/v1/auditors", &[]).json()["plugin_set_hash"] != binding["plugin_set_hash"]
    });
    let later = gw.chat("And of Italy?");
    assert_eq!(later.status, 200, "{}", later.body);
    let later = ar(&gw, later.header("x-lucid-ar-hash"));
    assert_ne!(later["binding_hash"], binding_hash.as_str());
    let kept = gw.get(
        &format!(
            "/v1/attestation?binding_hash={}",
            later["binding_hash"].as_str().unwrap()
        ),
        &[],
    );
    assert_eq!(kept.status, 200, "{}", kept.body);
    std::fs::remove_file(root.join("plugins").join("empty.wasm")).unwrap();
    eventually("the plugin set is back", || {
        gw.get("/v1/attestation", &[]).json()["binding_hash"] == binding_hash.as_str()
    });

    // A restart signs with a new key (a splice): a new binding, attested too; the chain lists
    // both keys with their reports.
    let data = root.join("data");
    let config = root.join("lucid.toml");
    let before = binding_hash.clone();
    let daemon = std::mem::replace(&mut gw.daemon, placeholder());
    daemon.terminate();
    let mut cmd = serve_cmd(&root.join("plugins"), &data, &preset("balanced"));
    cmd.arg("--config").arg(&config);
    gw.daemon = Daemon::start(&mut cmd);
    gw.base = gw.daemon.base_url();
    let after = gw.chat("And of Spain?");
    assert_eq!(after.status, 200, "{}", after.body);
    let last = ar(&gw, after.header("x-lucid-ar-hash"));
    assert!(last.get("splice").is_some(), "a restart splices: {last}");
    let now = gw.get("/v1/attestation", &[]).json();
    assert_ne!(now["binding_hash"], before.as_str());
    assert_eq!(last["binding_hash"], now["binding_hash"]);
    let chain = gw
        .get(
            &format!("/v1/attestation-chain/{}", after.header("x-lucid-ar-hash")),
            &[],
        )
        .json();
    assert_eq!(chain["valid"], true, "{chain:#}");
    let keys = chain["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{chain:#}");
    // The first key signed under two plugin sets, the second under one: each attested.
    for (key, count) in keys.iter().zip([2, 1]) {
        let bindings = key["bindings"].as_array().unwrap();
        assert_eq!(bindings.len(), count, "{key:#}");
        for binding in bindings {
            assert_eq!(binding["report"]["status"], "attested", "{key:#}");
            assert_eq!(binding["report"]["mode"], "mock", "{key:#}");
        }
    }

    // The offline verifier: the exported chain, both kept reports, nothing of Lucid's.
    let Some(python) = std::env::var("LUCID_PYTHON").ok().filter(|p| !p.is_empty()) else {
        assert!(
            std::env::var_os("LUCID_REQUIRE_ALL").is_none(),
            "LUCID_PYTHON is needed for the offline verifier (LUCID_REQUIRE_ALL is set)"
        );
        return;
    };
    let chain_file = root.join("chain.jsonl");
    let lines: Vec<String> = chain["ar_hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| ar(&gw, h.as_str().unwrap()).to_string())
        .collect();
    std::fs::write(&chain_file, lines.join("\n") + "\n").unwrap();
    let mut args: Vec<String> = vec![
        lucid_e2e::repo_root()
            .join("examples/verify_chain.py")
            .display()
            .to_string(),
        chain_file.display().to_string(),
    ];
    let hashes = [
        before.as_str(),
        later["binding_hash"].as_str().unwrap(),
        now["binding_hash"].as_str().unwrap(),
    ];
    for (i, hash) in hashes.iter().enumerate() {
        let doc = gw.get(&format!("/v1/attestation?binding_hash={hash}"), &[]);
        let path = root.join(format!("attestation-{i}.json"));
        std::fs::write(&path, &doc.body).unwrap();
        args.extend(["--attestation".into(), path.display().to_string()]);
    }
    let run = |extra: &[&str]| {
        std::process::Command::new(&python)
            .args(&args)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&["--allow-mock", "--require-attested"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["--require-attested"]);
    assert!(!out.status.success(), "mock accepted without --allow-mock");
}

/// A stand-in while the gateway restarts: a finished process.
fn placeholder() -> Daemon {
    Daemon::start(lucid().arg("--version"))
}
