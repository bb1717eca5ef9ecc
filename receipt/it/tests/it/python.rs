//! `examples/verify_chain.py` (rfc8785 + cryptography) agrees with `lucid-ar` on a chain the
//! component signed. Runs when `$LUCID_PYTHON` (default `python3`) has both packages; otherwise
//! it prints SKIPPED and passes, unless `LUCID_REQUIRE_PYTHON` or `LUCID_REQUIRE_ALL` (set by
//! `cargo xtask ci`) is set.

use std::path::{Path, PathBuf};
use std::process::Command;

use lucid_receipt_it::Runtime;

fn python() -> Option<String> {
    let python = std::env::var("LUCID_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", "import rfc8785, cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    let required = ["LUCID_REQUIRE_PYTHON", "LUCID_REQUIRE_ALL"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    assert!(
        !required,
        "{python} lacks rfc8785 or cryptography (pip install rfc8785 cryptography)"
    );
    eprintln!("SKIPPED: the python verifier: {python} lacks rfc8785 or cryptography");
    None
}

fn verify(python: &str, jsonl: &Path) -> (bool, String) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/verify_chain.py");
    let out = Command::new(python)
        .arg(script)
        .arg(jsonl)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn the_python_verifier_accepts_the_chain_and_names_a_changed_byte() {
    let Some(python) = python() else {
        return;
    };
    let ars = crate::signer::signed_chain(&Runtime::load());
    let dir = std::env::temp_dir().join(format!("lucid-receipt-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let good = dir.join("chain.jsonl");
    std::fs::write(&good, ars.join("\n") + "\n").unwrap();
    let (ok, out) = verify(&python, &good);
    assert!(ok, "{out}");
    assert!(out.contains("OK: 110 receipts, chain depth 109"), "{out}");
    assert!(out.contains("splice"), "{out}");

    // One byte changed in the middle of AR 42 (a digit of its claims, still valid JSON).
    let mut bad = ars.clone();
    let target: serde_json::Value = serde_json::from_str(&ars[42]).unwrap();
    bad[42] = bad[42].replacen("\"req-000042\"", "\"req-000043\"", 1);
    assert_ne!(bad[42], ars[42]);
    let tampered = dir.join("tampered.jsonl");
    std::fs::write(&tampered, bad.join("\n") + "\n").unwrap();
    let (ok, out) = verify(&python, &tampered);
    assert!(!ok, "{out}");
    let name = target["ar_hash"].as_str().unwrap();
    assert!(
        out.contains(&format!("line 43: ar {name}: ar_hash")),
        "{out}"
    );

    // Two lines swapped.
    let mut swapped = ars.clone();
    swapped.swap(10, 11);
    let reordered = dir.join("reordered.jsonl");
    std::fs::write(&reordered, swapped.join("\n") + "\n").unwrap();
    let (ok, out) = verify(&python, &reordered);
    assert!(!ok && out.contains("line 11: ar "), "{out}");

    std::fs::remove_dir_all(&dir).ok();
}
