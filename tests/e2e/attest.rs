//! `lucid attest verify` on a genuine AMD SEV-SNP report (Milan, with its VCEK; see
//! `host/attest/tests/data/SOURCE.md`) against the built-in AMD roots: accepted with the right
//! product, refused after any one-bit change and with another product.

use std::path::PathBuf;

use lucid_e2e::{lucid, repo_root};
use serde_json::Value;

fn data(name: &str) -> PathBuf {
    repo_root().join("host/attest/tests/data").join(name)
}

fn verify(report: &std::path::Path, product: &str) -> (bool, Value) {
    let out = lucid()
        .args(["attest", "verify", "--report"])
        .arg(report)
        .arg("--vcek")
        .arg(data("milan_vcek.der"))
        .args(["--product", product])
        .output()
        .unwrap();
    let verdict: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(
        out.status.success(),
        verdict["ok"] == true,
        "the exit status follows the verdict: {verdict:#}"
    );
    (out.status.success(), verdict)
}

#[test]
fn a_genuine_milan_report_verifies_against_amd_roots_and_nothing_else_does() {
    let (ok, verdict) = verify(&data("milan_report.bin"), "milan");
    assert!(ok, "{verdict:#}");
    assert_eq!(verdict["mode"], "hardware");
    for check in verdict["checks"].as_array().unwrap() {
        assert_eq!(check["ok"], true, "{check}");
    }

    for product in ["genoa", "turin"] {
        let (ok, verdict) = verify(&data("milan_report.bin"), product);
        assert!(!ok, "a milan report passed as {product}: {verdict:#}");
    }

    let genuine = std::fs::read(data("milan_report.bin")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // One bit in the header, report_data, measurement, reported_tcb, chip_id, the signature.
    for offset in [0x08, 0x50, 0x8F, 0x90, 0x180, 0x1A0, 0x2A0, 0x2D0, 0x2E8] {
        let mut flipped = genuine.clone();
        flipped[offset] ^= 0x01;
        let path = dir.path().join(format!("flipped-{offset:x}.bin"));
        std::fs::write(&path, &flipped).unwrap();
        let (ok, verdict) = verify(&path, "milan");
        assert!(!ok, "a bit flipped at {offset:#x} passed: {verdict:#}");
    }
}
