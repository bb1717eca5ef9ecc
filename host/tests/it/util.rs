//! Helpers shared by the integration tests: the built components, temp dirs, and running the
//! real `lucid` binary.
//!
//! `cargo xtask test` builds the components first and says where they are
//! (`LUCID_TEST_PLUGINS`, `LUCID_TEST_GUESTS`); a plain `cargo test` builds them here, once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, OnceLock};

use lucid::config::{Config, StreamMode, StreamingConfig};
use lucid::evidence::SqliteStore;
use lucid::evidence::service::ReceiptService;
use lucid::evidence::signer::Signer;
use lucid::exchange::metrics::Metrics;
use lucid::exchange::{ExchangeService, Upstream};
use lucid::policy::PolicyRuntime;
use lucid::policy::overrides::Overrides;
use lucid::runtime::plugin::Auditor;
use lucid::runtime::plugin_dir::{Admission, PluginLoader};
use lucid::runtime::reload::PluginHost;
use lucid::runtime::sandbox::{EngineOptions, Limits, Sandbox};
use lucid::runtime::{Auditing, PhaseRunner};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ is one level below the repository root")
        .to_path_buf()
}

/// Build a wasm workspace with cargo (a no-op when up to date) and return its output dir.
fn build_wasm(manifest: &str) -> PathBuf {
    let root = repo_root();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
            manifest,
        ])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building {manifest} failed");
    root.join(manifest)
        .parent()
        .unwrap()
        .join("target/wasm32-wasip2/release")
}

/// The directory with the shipped auditors (pii, injection, token_budget).
pub fn plugins_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        std::env::var_os("LUCID_TEST_PLUGINS")
            .map(PathBuf::from)
            .filter(|d| d.join("pii.wasm").is_file())
            .unwrap_or_else(|| build_wasm("guests/Cargo.toml"))
    })
    .clone()
}

pub fn plugin(name: &str) -> PathBuf {
    plugins_dir().join(format!("{name}.wasm"))
}

/// A hostile or minimal test guest from tests/guests.
pub fn guest(name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        std::env::var_os("LUCID_TEST_GUESTS")
            .map(PathBuf::from)
            .filter(|d| d.join("empty.wasm").is_file())
            .unwrap_or_else(|| build_wasm("tests/guests/Cargo.toml"))
    })
    .join(format!("{name}.wasm"))
}

/// An exchange service without HTTP for the in-process tests: the auditors of `plugins`, the
/// policies of `policies` (which must load), `config` as `lucid.toml` (after generous deadlines:
/// a busy machine must not turn tests into auditor failures), `upstream`, streaming `mode`
/// with audit windows every `incremental_chars`; receipting into a fresh SQLite store in `data`.
pub fn exchange_service(
    plugins: &Path,
    policies: &Path,
    config: &str,
    upstream: Arc<dyn Upstream>,
    mode: StreamMode,
    incremental_chars: usize,
    data: &Path,
) -> (Arc<ExchangeService>, Arc<ReceiptService>) {
    let sandbox = sandbox();
    let loader = PluginLoader::new(sandbox.clone(), None, Admission::default());
    let host = Arc::new(PluginHost::open(plugins, loader).expect("plugins load"));
    let policy = Arc::new(PolicyRuntime::load(policies, &host.current()));
    assert_eq!(policy.problem(), None, "the test's policies must load");
    let store = SqliteStore::open(&data.join("evidence.db")).expect("store opens");
    let signer = Signer::load_file(sandbox.engine(), &receipt()).expect("signer");
    let receipts =
        Arc::new(ReceiptService::start(signer, Box::new(store)).expect("receipts start"));
    let config = Config::parse(
        &format!("[defaults]\ndeadline_ms = 10000\n{config}"),
        "test",
    )
    .expect("config");
    let redaction = config.redaction.clone();
    let auditing = Auditing::new(
        host,
        config,
        None,
        Some(policy.current().hash.clone()),
        PhaseRunner::new(sandbox.clone()),
    );
    let service = Arc::new(ExchangeService {
        auditing,
        policy,
        overrides: Overrides::new(Default::default()),
        receipts: receipts.clone(),
        upstream,
        redaction,
        streaming: StreamingConfig {
            mode,
            incremental_chars,
            scopes: Vec::new(),
        },
        metrics: Metrics::new(),
        lifecycle: Default::default(),
        attestor: None,
        feed: Default::default(),
    });
    (service, receipts)
}

/// One sandbox for the in-process tests (engine creation and the epoch thread are per process).
pub fn sandbox() -> Arc<Sandbox> {
    static SANDBOX: OnceLock<Arc<Sandbox>> = OnceLock::new();
    SANDBOX
        .get_or_init(|| {
            Arc::new(
                Sandbox::new(EngineOptions {
                    pooling: true,
                    fuel: true,
                    ..EngineOptions::default()
                })
                .expect("sandbox"),
            )
        })
        .clone()
}

/// Load a component file into the shared sandbox.
pub fn load(path: &Path) -> Auditor {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Auditor::load(&sandbox(), &bytes, &Limits::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn lucid() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lucid"));
    cmd.env_remove("LUCID_LOG");
    cmd
}

/// Result of one run of the binary.
pub struct Run {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        assert!(
            self.status.success(),
            "lucid failed: {}\n{}",
            self.status,
            self.stderr
        );
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }

    /// Assert a clean failure: non-zero exit, one `error:` line, no panic.
    pub fn error_line(&self) -> &str {
        assert!(
            !self.status.success(),
            "expected failure, got success: {}",
            self.stdout
        );
        assert!(
            !self.stderr.contains("panicked"),
            "the host panicked: {}",
            self.stderr
        );
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "expected one error line, got: {}",
            self.stderr
        );
        assert!(lines[0].starts_with("error: "), "{}", lines[0]);
        lines[0]
    }
}

pub fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("lucid runs");
    Run {
        status,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Write a file into a fresh temp dir and return both.
pub fn temp_file(name: &str, contents: impl AsRef<[u8]>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, contents).expect("write temp file");
    (dir, path)
}

/// A chat request with one user message.
pub fn chat_request(text: &str) -> String {
    serde_json::json!({
        "model": "mock-1",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": text}
        ]
    })
    .to_string()
}

/// The receipt signer component xtask puts next to the binary (or `$LUCID_RECEIPT`).
pub fn receipt() -> PathBuf {
    let path = std::env::var_os("LUCID_RECEIPT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_BIN_EXE_lucid")).with_file_name("lucid_receipt.wasm")
        });
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask build` (or `cargo xtask test`)",
        path.display()
    );
    path
}

/// Run `f` on a thread; fail (instead of hanging the suite) if it has not returned in a minute.
pub fn bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{what} did not return: the host hung"))
}
