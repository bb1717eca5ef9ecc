//! Helpers for the end-to-end tests: locate the release binary and the built components, start
//! `lucid` as a child process and read what it prints.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

pub mod pg_server;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is one level below the repository root")
        .to_path_buf()
}

/// The `lucid` binary under test: `LUCID_BIN`, or the release build.
pub fn lucid_bin() -> PathBuf {
    let bin = std::env::var_os("LUCID_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/release/lucid"));
    assert!(
        bin.is_file(),
        "{} does not exist: run `cargo xtask build` (or `cargo xtask test`) first",
        bin.display()
    );
    bin
}

/// Every shipped auditor (`cargo xtask build` puts them into plugins/). The shipped presets read
/// their claims, so a gateway on a shipped preset needs them all loaded.
pub const SHIPPED: [&str; 11] = [
    "pii",
    "injection",
    "token_budget",
    "integrity",
    "model_card",
    "geo_fence",
    "loop_breaker",
    "mcp_firewall",
    "token_economist",
    "toxicity",
    "grounding",
];

/// Copy every shipped auditor into `dir` (which must exist).
pub fn copy_shipped(dir: &Path) {
    for name in SHIPPED {
        std::fs::copy(plugin(name), dir.join(format!("{name}.wasm"))).unwrap();
    }
}

/// A shipped auditor built into plugins/.
pub fn plugin(name: &str) -> PathBuf {
    let path = std::env::var_os("LUCID_TEST_PLUGINS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("plugins"))
        .join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask build`",
        path.display()
    );
    path
}

/// A test guest built from tests/guests.
pub fn guest(name: &str) -> PathBuf {
    let path = std::env::var_os("LUCID_TEST_GUESTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("tests/guests/target/wasm32-wasip2/release"))
        .join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask test`",
        path.display()
    );
    path
}

pub fn lucid() -> Command {
    let mut cmd = Command::new(lucid_bin());
    cmd.env_remove("LUCID_LOG");
    cmd
}

/// A running `lucid` process; killed when dropped.
pub struct Daemon {
    child: Child,
    lines: Receiver<String>,
    pub seen: Vec<String>,
}

impl Daemon {
    pub fn start(cmd: &mut Command) -> Daemon {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("lucid starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Daemon {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Read lines until one satisfies `pred` (bounded wait); returns it and how long it took.
    pub fn wait_for(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> (String, Duration) {
        self.wait_within(what, Duration::from_secs(30), pred)
    }

    /// [`Daemon::wait_for`] with another bound (a gateway that compiles Python and JavaScript
    /// auditors at start takes longer on a busy machine).
    pub fn wait_within(
        &mut self,
        what: &str,
        limit: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> (String, Duration) {
        let started = Instant::now();
        let deadline = started + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return (line, started.elapsed());
                    }
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "gave up waiting for {what}; output so far:\n{}",
                        self.seen.join("\n")
                    )
                }
            }
        }
    }

    /// Send SIGTERM and wait (bounded) for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("lucid did not exit after SIGTERM");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A permissive policy directory (for tests about something other than policy).
pub fn permissive_policies() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("allow.cedar"),
        "@id(\"allow-all\")\npermit(principal, action, resource);\n",
    )
    .expect("write policy");
    dir
}

/// The shipped policies of a preset.
pub fn preset(name: &str) -> PathBuf {
    repo_root().join("policies/presets").join(name)
}

/// `lucid serve` on a free port with a data dir, plugins and policies. Its compile cache key
/// lives in `state/` beside the data dir (not in the tester's home).
pub fn serve_cmd(plugins: &Path, data: &Path, policies: &Path) -> Command {
    let mut cmd = lucid();
    cmd.env(
        "XDG_STATE_HOME",
        data.parent().unwrap_or(Path::new(".")).join("state"),
    );
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--plugins"])
        .arg(plugins)
        .arg("--data-dir")
        .arg(data)
        .arg("--policies")
        .arg(policies);
    cmd
}

impl Daemon {
    /// Wait for the `lucid listening on http://ADDR` line; returns the base URL.
    pub fn base_url(&mut self) -> String {
        self.base_url_within(Duration::from_secs(30))
    }

    /// [`Daemon::base_url`], waiting up to `limit`.
    pub fn base_url_within(&mut self, limit: Duration) -> String {
        let (line, _) = self.wait_within("the listening line", limit, |l| {
            l.starts_with("lucid listening on http://")
        });
        line.trim_start_matches("lucid listening on ").to_string()
    }
}

/// Chromium for the Observer UI's tests: `LUCID_CHROMIUM`, which `cargo xtask test` sets after
/// installing Debian's chromium package when it is missing.
pub fn chromium() -> PathBuf {
    let path = std::env::var_os("LUCID_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!(
                "LUCID_CHROMIUM is not set: run `cargo xtask test` (it installs Chromium and sets it), or set it to a Chromium binary"
            )
        });
    assert!(
        path.is_file(),
        "LUCID_CHROMIUM={} does not exist: run `cargo xtask test` (it installs Chromium)",
        path.display()
    );
    path
}

/// A headless Chromium with a fresh profile of its own; killed (and the profile removed) when
/// dropped.
pub struct Chromium {
    pub browser: headless_chrome::Browser,
    _profile: tempfile::TempDir,
}

/// Launch [`chromium`] headless, without the sandbox (the tests may run as root), in a fresh
/// profile, with nothing that talks to the network on its own.
pub fn launch_chromium() -> Chromium {
    let profile = tempfile::tempdir().expect("temp dir for the browser profile");
    let args: Vec<&std::ffi::OsStr> = [
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-proxy-server",
    ]
    .iter()
    .map(std::ffi::OsStr::new)
    .collect();
    let options = headless_chrome::LaunchOptions::default_builder()
        .path(Some(chromium()))
        .headless(true)
        .sandbox(false)
        .user_data_dir(Some(profile.path().to_path_buf()))
        .window_size(Some((1280, 900)))
        .args(args)
        // The browser's connection must outlive a slow page on a busy machine.
        .idle_browser_timeout(Duration::from_secs(600))
        .build()
        .expect("chromium launch options");
    let browser = headless_chrome::Browser::new(options)
        .unwrap_or_else(|e| panic!("chromium ({}) did not start: {e:#}", chromium().display()));
    Chromium {
        browser,
        _profile: profile,
    }
}
