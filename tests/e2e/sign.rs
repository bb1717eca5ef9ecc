//! Notarized auditors from the command line: keygen, sign, verify, publish to a registry,
//! serve --require-signed.

use lucid_e2e::{Daemon, lucid, permissive_policies, plugin, serve_cmd};

fn ok(cmd: &mut std::process::Command) -> serde_json::Value {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn sign_verify_and_require_signed() {
    let root = tempfile::tempdir().unwrap();
    let key = root.path().join("publisher.key");
    let made = ok(lucid().args(["keygen", "--out"]).arg(&key));
    let key_id = made["key_id"].as_str().unwrap().to_string();
    assert!(root.path().join("publisher.key.pub").is_file());
    let trusted = root.path().join("trusted");
    std::fs::create_dir(&trusted).unwrap();
    std::fs::copy(
        root.path().join("publisher.key.pub"),
        trusted.join("publisher.pub"),
    )
    .unwrap();

    let dir = root.path().join("plugins");
    std::fs::create_dir(&dir).unwrap();
    let pii = dir.join("pii.wasm");
    std::fs::copy(plugin("pii"), &pii).unwrap();
    std::fs::copy(plugin("injection"), dir.join("injection.wasm")).unwrap();
    let signed = ok(lucid()
        .args(["auditor", "sign"])
        .arg(&pii)
        .arg("--key")
        .arg(&key));
    assert_eq!(signed["key_id"], key_id.as_str());
    let verified = ok(lucid()
        .args(["auditor", "verify"])
        .arg(&pii)
        .arg("--trusted-keys")
        .arg(&trusted));
    assert_eq!(verified["valid"], true);

    let unsigned = lucid()
        .args(["auditor", "verify"])
        .arg(dir.join("injection.wasm"))
        .arg("--trusted-keys")
        .arg(&trusted)
        .output()
        .unwrap();
    assert!(!unsigned.status.success());
    assert!(String::from_utf8_lossy(&unsigned.stderr).contains("not signed"));

    let policies = permissive_policies();
    let mut daemon = Daemon::start(
        serve_cmd(&dir, &root.path().join("data"), policies.path())
            .args(["--require-signed", "--trusted-keys"])
            .arg(&trusted),
    );
    daemon.wait_for("listing", |l| l.contains("(1 loaded, 1 refused)"));
    daemon.wait_for("refusal", |l| {
        l.contains("refused injection.wasm") && l.contains("not signed")
    });
    // Under --require-signed no native code is taken from (or written to) the data dir's compile
    // cache: a writable data dir must not be a way past the signatures.
    assert!(
        !root.path().join("data/cache").exists(),
        "the compile cache was used under --require-signed"
    );

    // A keygen never overwrites a key.
    let again = lucid()
        .args(["keygen", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(!again.status.success());
}

#[test]
fn publish_to_a_registry_that_serve_require_signed_reads() {
    let root = tempfile::tempdir().unwrap();
    let key = root.path().join("publisher.key");
    ok(lucid().args(["keygen", "--out"]).arg(&key));
    let registry = root.path().join("registry");
    let dir = root.path().join("plugins");
    std::fs::create_dir(&dir).unwrap();
    let pii = dir.join("pii.wasm");
    std::fs::copy(plugin("pii"), &pii).unwrap();
    std::fs::copy(plugin("injection"), dir.join("injection.wasm")).unwrap();

    let published = ok(lucid()
        .args(["auditor", "publish"])
        .arg(&pii)
        .arg("--key")
        .arg(&key)
        .arg("--registry")
        .arg(&registry));
    assert_eq!(published["id"], "pii");
    let sha = published["sha256"].as_str().unwrap().to_string();
    let record = registry.join(format!("auditors/{sha}.json"));
    assert!(record.is_file());
    let verified = ok(lucid()
        .args(["auditor", "verify"])
        .arg(&pii)
        .arg("--registry")
        .arg(&registry));
    assert_eq!(verified["by"], "registry");

    // A second key is not trusted by an existing registry unless asked.
    let other = root.path().join("other.key");
    ok(lucid().args(["keygen", "--out"]).arg(&other));
    let refused = lucid()
        .args(["auditor", "publish"])
        .arg(dir.join("injection.wasm"))
        .arg("--key")
        .arg(&other)
        .arg("--registry")
        .arg(&registry)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not trusted by the registry"));
    let unpublished = lucid()
        .args(["auditor", "verify"])
        .arg(dir.join("injection.wasm"))
        .arg("--registry")
        .arg(&registry)
        .output()
        .unwrap();
    assert!(!unpublished.status.success());
    assert!(String::from_utf8_lossy(&unpublished.stderr).contains("not published"));

    let policies = permissive_policies();
    let mut daemon = Daemon::start(
        serve_cmd(&dir, &root.path().join("data"), policies.path())
            .args(["--require-signed", "--registry"])
            .arg(&registry),
    );
    daemon.wait_for("listing", |l| l.contains("(1 loaded, 1 refused)"));
    daemon.wait_for("refusal", |l| {
        l.contains("refused injection.wasm") && l.contains("no record")
    });
    drop(daemon);

    // A record whose signature was tampered with admits nothing.
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    doc["signature"]["signature"] = serde_json::json!("00".repeat(64));
    std::fs::write(&record, doc.to_string()).unwrap();
    let tampered = lucid()
        .args(["auditor", "verify"])
        .arg(&pii)
        .arg("--registry")
        .arg(&registry)
        .output()
        .unwrap();
    assert!(!tampered.status.success());
    let mut daemon = Daemon::start(
        serve_cmd(&dir, &root.path().join("data2"), policies.path())
            .args(["--require-signed", "--registry"])
            .arg(&registry),
    );
    daemon.wait_for("listing", |l| l.contains("(0 loaded, 2 refused)"));
}
