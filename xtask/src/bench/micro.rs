//! The micro benchmarks: the cargo benches of the auditor runtime and of Cedar, and the receipt
//! throughput of `lucid chain demo` / `chain verify`.

use std::process::Command;

use anyhow::Context;

/// The micro benchmarks, in this order.
pub fn run(which: &[&str]) -> anyhow::Result<()> {
    if which.is_empty() {
        return Ok(());
    }
    crate::build_guests()?;
    crate::build_test_guests()?;
    if which.contains(&"runtime") {
        // The Python and JavaScript examples are measured beside the Rust auditors.
        crate::build_host()?;
        let python = crate::ensure_python().context("Python is needed for componentize-py")?;
        let componentize_js = crate::ensure_js_tools()?;
        let sdk_plugins =
            crate::build_sdk_examples(&python.with_file_name("componentize-py"), &componentize_js)?;
        let mut cmd = crate::cargo();
        cmd.args(["bench", "-p", "lucid", "--bench", "runtime"])
            .env("LUCID_SDK_PLUGINS", sdk_plugins)
            .env("LUCID_TEST_PLUGINS", crate::root().join("plugins"))
            .env(
                "LUCID_TEST_GUESTS",
                crate::root().join("tests/guests/target/wasm32-wasip2/release"),
            );
        crate::exec(cmd)?;
    }
    if which.contains(&"cedar") {
        let mut cmd = crate::cargo();
        cmd.args(["bench", "-p", "lucid-policy", "--bench", "decide"]);
        crate::exec(cmd)?;
    }
    if which.contains(&"receipt") {
        crate::build_host()?;
        bench_receipt()?;
    }
    Ok(())
}

/// Sign + durably commit N ARs with 8 writers through the real signer and SQLite store, then
/// verify them all.
fn bench_receipt() -> anyhow::Result<()> {
    let dir = crate::root().join("target/bench-receipt");
    let _ = std::fs::remove_dir_all(&dir);
    let n = 20_000u32;
    let started = std::time::Instant::now();
    let out = Command::new(crate::lucid_bin())
        .args([
            "chain",
            "demo",
            &n.to_string(),
            "--writers",
            "8",
            "--data-dir",
        ])
        .arg(&dir)
        .output()
        .context("cannot run lucid chain demo")?;
    let signed = started.elapsed();
    if !out.status.success() {
        anyhow::bail!(
            "chain demo failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let started = std::time::Instant::now();
    let out = Command::new(crate::lucid_bin())
        .args(["chain", "verify", "--data-dir"])
        .arg(&dir)
        .output()
        .context("cannot run lucid chain verify")?;
    let verified = started.elapsed();
    if !out.status.success() {
        anyhow::bail!(
            "chain verify failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    println!(
        "receipt bench: {n} ARs, 8 writers: sign+commit {:.0} ARs/s ({:.1?} incl. start-up); verify {:.0} ARs/s ({:.1?})",
        f64::from(n) / signed.as_secs_f64(),
        signed,
        f64::from(n) / verified.as_secs_f64(),
        verified
    );
    Ok(())
}
