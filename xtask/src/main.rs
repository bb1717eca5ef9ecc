//! `cargo xtask`: build, run, test and benchmark Lucid with one command each.
//!
//! Everything a fresh machine needs beyond the Rust toolchain is installed from here (rustup
//! targets today), and every command it runs is printed first.

mod bench;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

/// The shipped auditors: built into plugins/ by `cargo xtask build`.
const AUDITORS: &[&str] = &[
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
const WASM_TARGETS: &[&str] = &["wasm32-wasip2", "wasm32-unknown-unknown"];
/// The fuzz targets of fuzz/ (cargo-fuzz); each has its seed corpus in fuzz/corpus/<target>.
const FUZZ_TARGETS: &[&str] = &["sse", "ar", "config", "attest"];
/// Seconds each fuzz target runs in `cargo xtask ci`.
const CI_FUZZ_SECONDS: u64 = 20;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Build, run, test and benchmark Lucid")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build every guest into plugins/ and the host (release).
    Build,
    /// Build, then start the host on built-in defaults; extra arguments go to `lucid serve`.
    Run {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Native unit tests, guest builds and integration tests against the real components.
    Test,
    /// `cargo fmt --check`, `cargo clippy -D warnings`, the same as `test`, then every fuzz
    /// target for 20 s.
    Ci,
    /// Run the fuzz targets (cargo-fuzz, installed when missing) for `--seconds` each; a failing
    /// input fails the command and is kept in fuzz/artifacts/<target>/.
    Fuzz {
        /// How long each target runs.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Which target to run (all when absent).
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(FUZZ_TARGETS))]
        target: Option<String>,
    },
    /// Train an auditor's compact model (bench/quality/<auditor>/train.py) on the tune split of
    /// its third-party data; the weights go into guests/<auditor>/. Rebuild with `build`.
    Train {
        /// The auditor whose model to train.
        #[arg(value_parser = ["injection", "toxicity"])]
        auditor: String,
    },
    /// Benchmarks; they print figures and write reports, never a pass/fail.
    ///
    /// Without a subcommand: runtime, cedar, receipt and gateway. `all` adds peers and scale
    /// (about 20 minutes). HTTP rows last LUCID_BENCH_SECS (default 10) in LUCID_BENCH_ROUNDS
    /// (default 2) interleaved rounds.
    Bench {
        #[command(subcommand)]
        which: Option<bench::Which>,
    },
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Build => build(),
        Cmd::Run { args } => run(&args),
        Cmd::Test => test(false),
        Cmd::Ci => ci(),
        Cmd::Fuzz { seconds, target } => fuzz(seconds, target.as_deref()),
        Cmd::Bench { which } => bench::run(which),
        Cmd::Train { auditor } => bench::quality::train(&auditor),
    };
    if let Err(e) = result {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the repository root")
        .to_path_buf()
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Run a command from the repository root, echoing it first.
fn exec(mut cmd: Command) -> anyhow::Result<()> {
    cmd.current_dir(root());
    let shown = format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    );
    eprintln!("$ {shown}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// Add the wasm targets with rustup when they are missing.
fn ensure_targets() -> anyhow::Result<()> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("rustup is needed to add the wasm targets; install it from rustup.rs")?;
    let installed = String::from_utf8_lossy(&out.stdout);
    let missing: Vec<&str> = WASM_TARGETS
        .iter()
        .copied()
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "xtask: adding missing rustup targets: {}",
            missing.join(", ")
        );
        let mut cmd = Command::new("rustup");
        cmd.args(["target", "add"]).args(&missing);
        exec(cmd)?;
    }
    Ok(())
}

fn lucid_bin() -> PathBuf {
    root().join("target/release/lucid")
}

/// `cargo build` of the auditors' workspace for their target (release).
fn guests_build() -> Command {
    let mut cmd = cargo();
    cmd.args([
        "build",
        "--release",
        "--target",
        "wasm32-wasip2",
        "--manifest-path",
        "guests/Cargo.toml",
    ]);
    cmd
}

/// Build the auditors (their own workspace, so host features never leak into guests) and copy
/// them into plugins/.
fn build_guests() -> anyhow::Result<()> {
    ensure_targets()?;
    exec(guests_build())?;
    let out_dir = root().join("guests/target/wasm32-wasip2/release");
    let plugins = root().join("plugins");
    std::fs::create_dir_all(&plugins).context("cannot create plugins/")?;
    for name in AUDITORS {
        let from = out_dir.join(format!("{name}.wasm"));
        let to = plugins.join(format!("{name}.wasm"));
        // Copy to a temporary name and rename, so a running host never sees a half-written file.
        let tmp = plugins.join(format!(".{name}.wasm.tmp"));
        std::fs::copy(&from, &tmp)
            .with_context(|| format!("cannot copy {} to {}", from.display(), tmp.display()))?;
        std::fs::rename(&tmp, &to)?;
        eprintln!("xtask: {}", to.display());
    }
    Ok(())
}

fn build_host() -> anyhow::Result<()> {
    let mut cmd = cargo();
    cmd.args(["build", "--release", "-p", "lucid"]);
    exec(cmd)?;
    build_receipt()
}

/// Build the receipt signer (wasm32-unknown-unknown core module, then a component with its only
/// import being entropy) and put it next to the `lucid` binary, where `lucid` looks for it.
fn build_receipt() -> anyhow::Result<()> {
    ensure_targets()?;
    let mut cmd = cargo();
    cmd.args([
        "build",
        "--profile",
        "component",
        "--target",
        "wasm32-unknown-unknown",
        "-p",
        "lucid-receipt-signer",
        "--manifest-path",
        "receipt/Cargo.toml",
    ]);
    exec(cmd)?;
    let module =
        root().join("receipt/target/wasm32-unknown-unknown/component/lucid_receipt_signer.wasm");
    let out = root().join("target/release/lucid_receipt.wasm");
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--quiet",
        "--release",
        "-p",
        "lucid-receipt-componentize",
        "--manifest-path",
        "receipt/Cargo.toml",
        "--",
    ])
    .arg(&module)
    .arg(&out);
    exec(cmd)
}

fn build() -> anyhow::Result<()> {
    build_guests()?;
    build_host()
}

fn run(args: &[String]) -> anyhow::Result<()> {
    build()?;
    let mut cmd = Command::new(root().join("target/release/lucid"));
    cmd.arg("serve")
        .args([
            "--plugins",
            "plugins",
            "--upstream",
            "mock",
            "--preset",
            "balanced",
        ])
        .args(args);
    exec(cmd)
}

/// Build the hostile and minimal test guests (tests/guests); the host's tests load them from
/// there.
fn build_test_guests() -> anyhow::Result<()> {
    let mut cmd = cargo();
    cmd.args([
        "build",
        "--release",
        "--target",
        "wasm32-wasip2",
        "--manifest-path",
        "tests/guests/Cargo.toml",
    ]);
    exec(cmd)
}

/// Every shipped auditor through `lucid auditor test FILE --contract`: the host's built-in
/// exchanges of every phase it observes, failing on a call that fails, traps or times out (a
/// deadline of 2 s) and on a claim that is undeclared, mistyped or of another phase.
fn contract_test_auditors() -> anyhow::Result<()> {
    for name in AUDITORS {
        let mut cmd = Command::new(lucid_bin());
        // The contract is about claims, not speed: a generous deadline keeps a busy CI machine
        // from failing a correct auditor (per-call cost is measured by `cargo xtask bench`).
        cmd.args(["auditor", "test"])
            .arg(format!("plugins/{name}.wasm"))
            .args(["--contract", "--deadline-ms", "2000"]);
        exec(cmd)?;
    }
    Ok(())
}

/// `strict` (`cargo xtask ci`): a test dependency that cannot be installed is an error, and the
/// tests run with `LUCID_REQUIRE_ALL=1`, under which a test that would print SKIPPED fails.
fn test(strict: bool) -> anyhow::Result<()> {
    build_guests()?;
    build_test_guests()?;
    // The end-to-end tests run the release binary.
    build_host()?;
    contract_test_auditors()?;
    // Native unit tests of the guest SDK and the auditors.
    let mut cmd = cargo();
    cmd.args(["test", "--manifest-path", "guests/Cargo.toml"]);
    exec(cmd)?;
    // The AR format and the receipt component's surface. The component's own tests in wasmtime
    // (receipt/it) are a member of the root workspace and run with the host's tests below.
    let mut cmd = cargo();
    cmd.args([
        "test",
        "--release",
        "--manifest-path",
        "receipt/Cargo.toml",
        "-p",
        "lucid-ar",
        "-p",
        "lucid-receipt-componentize",
    ])
    .env(
        "LUCID_RECEIPT_WASM",
        root().join("target/release/lucid_receipt.wasm"),
    );
    exec(cmd)?;
    // Host unit and integration tests, in release so they share the build of `lucid`.
    let python = ensure_python();
    let postgres = ensure_postgres();
    let js_tools = ensure_js_tools();
    let chromium = ensure_chromium();
    if strict {
        let python = python
            .as_ref()
            .context("the Python test packages could not be installed (see above)")?;
        postgres.context("PostgreSQL could not be installed (see above)")?;
        if let Err(e) = &js_tools {
            bail!("the JavaScript auditor toolchain could not be installed: {e:#}");
        }
        if let Err(e) = &chromium {
            bail!("Chromium (for the Observer UI tests) could not be installed: {e:#}");
        }
        eprintln!(
            "xtask: strict: Python at {}, PostgreSQL, componentize-py, componentize-js and Chromium present; nothing may be skipped",
            python.display()
        );
    }
    // The Python and JavaScript SDKs: their own tests, then the examples built and checked.
    let mut sdk_env: Vec<(&str, PathBuf)> = Vec::new();
    match (&python, &js_tools) {
        (Some(python), Ok(componentize_js)) => {
            let mut cmd = Command::new(python);
            cmd.args([
                "-m",
                "unittest",
                "discover",
                "-s",
                "sdks/python/tests",
                "-v",
            ]);
            exec(cmd)?;
            let mut cmd = Command::new("node");
            cmd.args(["--test", "sdks/js/test", "guests/js"]);
            exec(cmd)?;
            let componentize_py = python.with_file_name("componentize-py");
            let plugins = build_sdk_examples(&componentize_py, componentize_js)?;
            sdk_env.push(("LUCID_SDK_PLUGINS", plugins));
            sdk_env.push(("LUCID_COMPONENTIZE_PY", componentize_py));
            sdk_env.push(("LUCID_COMPONENTIZE_JS", componentize_js.clone()));
        }
        _ => eprintln!(
            "xtask: WARNING: no Python or JavaScript toolchain; the SDK tests will print SKIPPED"
        ),
    }
    let mut cmd = cargo();
    cmd.envs(sdk_env);
    if let Some(python) = &python {
        cmd.env("LUCID_PYTHON", python);
    }
    match &chromium {
        Ok(chromium) => {
            cmd.env("LUCID_CHROMIUM", chromium);
        }
        Err(e) => eprintln!("xtask: WARNING: no Chromium ({e:#}); the Observer UI tests will fail"),
    }
    if strict {
        cmd.env("LUCID_REQUIRE_ALL", "1");
    }
    cmd.args(["test", "--release", "--workspace"])
        .env(
            "LUCID_RECEIPT_WASM",
            root().join("target/release/lucid_receipt.wasm"),
        )
        .env("LUCID_TEST_PLUGINS", root().join("plugins"))
        .env(
            "LUCID_TEST_GUESTS",
            root().join("tests/guests/target/wasm32-wasip2/release"),
        );
    exec(cmd)?;
    // The offline verifiers' own tests (pure Python: forged chains and reports).
    if let Some(python) = &python {
        let mut cmd = Command::new(python);
        cmd.args(["-m", "unittest", "discover", "-s", "examples/tests", "-v"])
            .current_dir(root());
        exec(cmd)?;
    }
    Ok(())
}

fn ci() -> anyhow::Result<()> {
    ensure_targets()?;
    for manifest in [
        "Cargo.toml",
        "guests/Cargo.toml",
        "tests/guests/Cargo.toml",
        "receipt/Cargo.toml",
        "fuzz/Cargo.toml",
    ] {
        let mut cmd = cargo();
        cmd.args(["fmt", "--all", "--check", "--manifest-path", manifest]);
        exec(cmd)?;
    }
    let mut cmd = cargo();
    cmd.args([
        "clippy",
        "--release",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    exec(cmd)?;
    let mut cmd = cargo();
    cmd.args([
        "clippy",
        "--release",
        "--manifest-path",
        "receipt/Cargo.toml",
        "-p",
        "lucid-ar",
        "-p",
        "lucid-receipt-componentize",
        "-p",
        "lucid-receipt-signer",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    exec(cmd)?;
    let mut cmd = cargo();
    cmd.args([
        "clippy",
        "--manifest-path",
        "guests/Cargo.toml",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    exec(cmd)?;
    test(true)?;
    fuzz(CI_FUZZ_SECONDS, None)
}

/// Build the fuzz targets once, then run each for `seconds`. Stable Rust is enough: no sanitizer
/// (the targets are safe Rust; libFuzzer finds panics, failed assertions, timeouts and runaway
/// memory), and 16 codegen units keep the instrumented build short. New inputs go to
/// fuzz/target/corpus/<target>, so the seed corpus in fuzz/corpus stays as committed.
fn fuzz(seconds: u64, which: Option<&str>) -> anyhow::Result<()> {
    ensure_cargo_fuzz()?;
    const BUILD: &[&str] = &["--sanitizer", "none", "--codegen-units", "16"];
    let mut cmd = cargo();
    cmd.args(["fuzz", "build"]).args(BUILD);
    exec(cmd)?;
    for target in FUZZ_TARGETS
        .iter()
        .filter(|t| which.is_none_or(|w| w == **t))
    {
        let work = format!("fuzz/target/corpus/{target}");
        let seeds = format!("fuzz/corpus/{target}");
        std::fs::create_dir_all(root().join(&work))
            .with_context(|| format!("cannot create {work}"))?;
        let mut cmd = cargo();
        cmd.args(["fuzz", "run"])
            .args(BUILD)
            .args([*target, &work, &seeds])
            .args([
                "--",
                &format!("-max_total_time={seconds}"),
                // One input taking this long is a failure (a hang), as is a run past 2 GiB.
                "-timeout=10",
                "-rss_limit_mb=2048",
                "-print_final_stats=1",
            ]);
        exec(cmd).with_context(|| {
            format!(
                "fuzz target '{target}' found a failing input: it is in fuzz/artifacts/{target}/; \
                 replay it with `cargo fuzz run --sanitizer none --codegen-units 16 {target} FILE`"
            )
        })?;
    }
    Ok(())
}

/// `cargo fuzz`, installed from crates.io when missing (it builds with the stable toolchain).
fn ensure_cargo_fuzz() -> anyhow::Result<()> {
    let present = cargo()
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if present {
        return Ok(());
    }
    eprintln!("xtask: cargo-fuzz is missing; installing it with cargo install");
    let mut cmd = cargo();
    cmd.args(["install", "--locked", "--version", "^0.13", "cargo-fuzz"]);
    exec(cmd).context("cannot install cargo-fuzz")
}

/// Python packages the tests drive Lucid with (the example verifier, the official OpenAI client)
/// and build Python auditors with (componentize-py, the version the SDK is tested with).
const PYTHON_PACKAGES: &[&str] = &[
    "rfc8785",
    "cryptography",
    "openai",
    "componentize-py==0.25.1",
];

/// A venv under target/ with the test packages; `None` (and a loud message) when it cannot be
/// made, in which case the tests that need it print SKIPPED.
fn ensure_python() -> Option<PathBuf> {
    let venv = root().join("target/venv");
    let python = venv.join("bin/python");
    let componentize = venv.join("bin/componentize-py");
    let ready = || {
        Command::new(&python)
            .args(["-c", "import rfc8785, cryptography, openai"])
            .output()
            .is_ok_and(|o| o.status.success())
            && Command::new(&componentize)
                .arg("--version")
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("0.25.1"))
    };
    if ready() {
        return Some(python);
    }
    eprintln!(
        "xtask: creating {} with {}",
        venv.display(),
        PYTHON_PACKAGES.join(", ")
    );
    let mut make = Command::new("python3");
    make.args(["-m", "venv"]).arg(&venv);
    let mut pip = Command::new(venv.join("bin/pip"));
    pip.args(["install", "--quiet", "--disable-pip-version-check"])
        .args(PYTHON_PACKAGES);
    if let Err(e) = exec(make).and_then(|()| exec(pip)) {
        eprintln!(
            "xtask: WARNING: cannot set up Python test packages ({e:#}); tests that need them will print SKIPPED"
        );
        return None;
    }
    ready().then_some(python)
}

/// The JavaScript auditor toolchain (componentize-js, with jco), installed with `npm ci` from
/// xtask/js-tools (package.json and its lock) into target/js-tools. Node.js and npm come from
/// Debian's packages when missing. Returns the `componentize-js` to build with.
fn ensure_js_tools() -> anyhow::Result<PathBuf> {
    let prefix = root().join("target/js-tools");
    let tool = prefix.join("node_modules/.bin/componentize-js");
    let lock = root().join("xtask/js-tools/package-lock.json");
    let installed_lock = prefix.join("package-lock.json");
    let same_lock = std::fs::read(&lock).ok().is_some_and(|wanted| {
        std::fs::read(&installed_lock).is_ok_and(|installed| installed == wanted)
    });
    if tool.is_file() && same_lock {
        return Ok(tool);
    }
    let has = |program: &str| {
        Command::new(program)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !has("node") || !has("npm") {
        eprintln!("xtask: Node.js/npm are missing; installing Debian's nodejs and npm packages");
        apt_install(&["nodejs", "npm"])?;
    }
    std::fs::create_dir_all(&prefix).context("cannot create target/js-tools")?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(root().join("xtask/js-tools").join(file), prefix.join(file))
            .with_context(|| format!("cannot copy xtask/js-tools/{file}"))?;
    }
    let mut npm = Command::new("npm");
    npm.args(["ci", "--no-audit", "--no-fund", "--prefix"])
        .arg(&prefix);
    exec(npm).context("cannot install the JavaScript auditor toolchain")?;
    if !tool.is_file() {
        bail!("npm ci finished but {} is missing", tool.display());
    }
    Ok(tool)
}

/// The Python and JavaScript example auditors (guests/python, guests/js), built with
/// `lucid auditor build` (the CLI path an author takes) into target/sdk-plugins, then
/// contract-tested like the Rust ones.
const SDK_EXAMPLES: &[(&str, &str)] = &[("python", "blocklist"), ("js", "links")];

fn build_sdk_examples(componentize_py: &Path, componentize_js: &Path) -> anyhow::Result<PathBuf> {
    let out_dir = root().join("target/sdk-plugins");
    std::fs::create_dir_all(&out_dir).context("cannot create target/sdk-plugins")?;
    for (lang, name) in SDK_EXAMPLES {
        let out = out_dir.join(format!("{name}.wasm"));
        let mut cmd = Command::new(root().join("target/release/lucid"));
        cmd.args(["auditor", "build"])
            .arg(format!("guests/{lang}/{name}"))
            .arg("--out")
            .arg(&out)
            .env("LUCID_COMPONENTIZE_PY", componentize_py)
            .env("LUCID_COMPONENTIZE_JS", componentize_js);
        exec(cmd)?;
        let mut cmd = Command::new(root().join("target/release/lucid"));
        cmd.args(["auditor", "test"])
            .arg(&out)
            .args(["--claims", "--deadline-ms", "2000"]);
        exec(cmd)?;
    }
    Ok(out_dir)
}

/// The PostgreSQL store is tested against a real throwaway server; install Debian's package when
/// it is missing (the test itself prints SKIPPED if there is still none, and fails under
/// `cargo xtask ci`).
fn ensure_postgres() -> anyhow::Result<()> {
    let present = || {
        std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.path().join("bin/initdb").is_file())
    };
    if present() {
        return Ok(());
    }
    eprintln!(
        "xtask: PostgreSQL is missing; installing Debian's postgresql package for the store tests"
    );
    if let Err(e) = apt_install(&["postgresql"]) {
        eprintln!(
            "xtask: WARNING: cannot install postgresql ({e:#}); the PostgreSQL test will print SKIPPED (and fail under `cargo xtask ci`)"
        );
        return Err(e);
    }
    if !present() {
        bail!("postgresql was installed but no initdb is under /usr/lib/postgresql");
    }
    Ok(())
}

/// The Observer UI's end-to-end tests drive headless Chromium: `LUCID_CHROMIUM` when it is set,
/// else Debian's chromium package, installed when it is missing.
fn ensure_chromium() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("LUCID_CHROMIUM").map(PathBuf::from) {
        if path.is_file() {
            return Ok(path);
        }
        bail!("LUCID_CHROMIUM={} does not exist", path.display());
    }
    let path = PathBuf::from("/usr/bin/chromium");
    if path.is_file() {
        return Ok(path);
    }
    eprintln!("xtask: Chromium is missing; installing Debian's chromium package for the UI tests");
    apt_install(&["chromium"]).context("cannot install chromium")?;
    if !path.is_file() {
        bail!("chromium was installed but {} is missing", path.display());
    }
    Ok(path)
}

/// Install Debian packages (`apt-get update`, then `apt-get install`).
fn apt_install(packages: &[&str]) -> anyhow::Result<()> {
    let mut update = Command::new("apt-get");
    update
        .arg("update")
        .env("DEBIAN_FRONTEND", "noninteractive");
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive");
    exec(update).and_then(|()| exec(install))
}
