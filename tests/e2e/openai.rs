//! The gateway through the official `openai` Python package: a plain exchange, denials, a stream
//! in each streaming mode and the chain, all checked by tests/e2e/openai_client.py.
//!
//! Needs `LUCID_PYTHON`, a Python with `openai` installed (`cargo xtask test` sets it up); without
//! it the test says it was skipped and passes.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lucid_e2e::{Daemon, preset, serve_cmd};

/// A gateway with the shipped auditors, the `balanced` preset and the given streaming mode.
fn start(mode: &str) -> (tempfile::TempDir, Daemon, String) {
    let root = tempfile::tempdir().unwrap();
    let plugins = root.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    lucid_e2e::copy_shipped(&plugins);
    let config = root.path().join("lucid.toml");
    std::fs::write(
        &config,
        format!("[defaults]\ndeadline_ms = 5000\n[streaming]\nmode = \"{mode}\"\nincremental_chars = 20\n"),
    )
    .unwrap();
    let mut cmd = serve_cmd(&plugins, &root.path().join("data"), &preset("balanced"));
    cmd.arg("--config").arg(&config);
    let mut daemon = Daemon::start(&mut cmd);
    let base = daemon.base_url();
    (root, daemon, base)
}

pub(crate) struct Run {
    pub(crate) success: bool,
    pub(crate) status: String,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Run the client script against `base`, bounded in time.
fn run_client(python: &str, base: &str, mode: &str) -> Run {
    run_script(python, "openai_client.py", base, mode)
}

/// Run `tests/e2e/<script> BASE ARG` with `python`, bounded in time.
pub(crate) fn run_script(python: &str, script: &str, base: &str, mode: &str) -> Run {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("e2e")
        .join(script);
    let mut child = Command::new(python)
        .arg(&script)
        .arg(base)
        .arg(mode)
        // The gateway is local: never go through a proxy from the environment.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python} {}: {e}", script.display()));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Run {
        success: status.is_some_and(|s| s.success()),
        status: status.map_or_else(|| "timed out after 180 s".to_string(), |s| s.to_string()),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

#[test]
fn the_openai_python_client_works_against_the_gateway_in_every_streaming_mode() {
    let Some(python) = std::env::var("LUCID_PYTHON").ok().filter(|p| !p.is_empty()) else {
        let msg = "the openai Python client test needs LUCID_PYTHON \
                   (a python with `openai` installed; `cargo xtask test` sets it)";
        assert!(
            std::env::var_os("LUCID_REQUIRE_ALL").is_none(),
            "{msg} (LUCID_REQUIRE_ALL is set: nothing may be skipped)"
        );
        println!("SKIPPED: {msg}");
        eprintln!("SKIPPED: {msg}");
        return;
    };
    for mode in ["buffer", "observe", "incremental"] {
        let (_root, daemon, base) = start(mode);
        let run = run_client(&python, &base, mode);
        assert!(
            run.success,
            "openai_client.py ({mode}) failed: {}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- gateway ---\n{}",
            run.status,
            run.stdout,
            run.stderr,
            daemon.seen.join("\n")
        );
        let summary = run
            .stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .unwrap_or_else(|| panic!("{mode}: no JSON summary in\n{}", run.stdout));
        let summary: serde_json::Value = serde_json::from_str(summary)
            .unwrap_or_else(|e| panic!("{mode}: bad summary {summary:?}: {e}"));
        assert_eq!(summary["ok"], true, "{mode}: {summary}");
        assert_eq!(summary["mode"], mode, "{summary}");
        assert_eq!(summary["chain_valid"], true, "{summary}");
        let status = daemon.terminate();
        assert!(status.success(), "{mode}: lucid exited with {status}");
    }
}
