//! `lucid auditor init | build`: auditor projects in Rust, Python and JavaScript.
//!
//! A project is a directory with a `lucid-auditor.toml` (name and language), the auditor's
//! source, the SDK and the WIT contract. `init` writes one from templates compiled into this
//! binary (the Python and JavaScript SDKs are single files, vendored; the Rust SDK is used from
//! the source tree by path). `build` runs the language's own toolchain — cargo, componentize-py,
//! componentize-js — and installs nothing: a missing tool is an error naming the one command that
//! installs it. Builds can take minutes on a small machine, so a progress line shows that they
//! are alive, and the toolchain's output is shown when they fail.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::emit;
use lucid::runtime::plugin::Auditor;
use lucid::runtime::sandbox::{EngineOptions, Limits, Sandbox};

/// The project file `init` writes and `build` reads.
pub const MANIFEST: &str = "lucid-auditor.toml";

/// The versions the SDKs are built and tested with (what the install hints pin).
pub const COMPONENTIZE_PY: &str = "0.25.1";
pub const COMPONENTIZE_JS: &str = "0.23.0";

const WIT: &str = include_str!("../../../wit/auditor/auditor.wit");
const PY_SDK: &str = include_str!("../../../sdks/python/lucid_auditor.py");
const PY_APP: &str = include_str!("../../../sdks/python/template/app.py");
const JS_SDK: &str = include_str!("../../../sdks/js/lucid-auditor.js");
const JS_SDK_TYPES: &str = include_str!("../../../sdks/js/lucid-auditor.d.ts");
const JS_APP: &str = include_str!("../../../sdks/js/template/auditor.js");
const JS_PACKAGE: &str = include_str!("../../../sdks/js/template/package.json");
const JS_TEST: &str = include_str!("../../../sdks/js/template/auditor.test.js");
const RUST_CARGO: &str = include_str!("templates/rust/Cargo.toml.tmpl");
const RUST_LIB: &str = include_str!("templates/rust/lib.rs.tmpl");

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Rust,
    Python,
    #[value(alias = "javascript")]
    Js,
}

impl Lang {
    fn as_str(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
        }
    }
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The new project's directory. Its last component is the auditor's name and vocabulary id:
    /// 1-64 lowercase letters, digits, '-' and '_', starting with a letter.
    pub name: PathBuf,
    /// The language of the auditor.
    #[arg(long, value_enum, default_value = "rust")]
    pub lang: Lang,
    /// The Lucid Rust SDK (`guests/sdk`) a Rust project depends on. Default: `$LUCID_SDK_DIR`,
    /// else the source tree this binary was built from.
    #[arg(long, value_name = "DIR")]
    pub sdk: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The project directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Where to write the component. Default: DIR/NAME.wasm.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Do not load the built component to check it (the check compiles it once, which takes
    /// seconds for Python and JavaScript auditors).
    #[arg(long)]
    pub no_check: bool,
    /// Show the toolchain's output even when the build succeeds.
    #[arg(long, short)]
    pub verbose: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    /// The auditor's name: the output file NAME.wasm.
    name: String,
    lang: Lang,
    /// Python: the module to componentize (default `app`); JavaScript: the source file
    /// (default `auditor.js`). Unused for Rust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    entry: Option<String>,
}

/// An auditor name: what the host accepts as a vocabulary id.
fn check_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let ok = name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !ok {
        bail!(
            "'{name}' is not a valid auditor name: use 1-64 lowercase letters, digits, '-' and '_', starting with a letter"
        );
    }
    Ok(())
}

/// `shout-loud_now` → `ShoutLoudNow`.
fn class_name(name: &str) -> String {
    name.split(['-', '_'])
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    vars.iter()
        .fold(template.to_string(), |text, (key, value)| {
            text.replace(&format!("{{{{{key}}}}}"), value)
        })
}

/// The Rust SDK directory for a new Rust project.
fn rust_sdk(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    let candidate = explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("LUCID_SDK_DIR").map(PathBuf::from))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../guests/sdk"));
    if !candidate.join("Cargo.toml").is_file() {
        bail!(
            "the Lucid Rust SDK is not at {} (a checkout of the Lucid repository has it in guests/sdk); pass --sdk DIR or set LUCID_SDK_DIR",
            candidate.display()
        );
    }
    candidate
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", candidate.display()))
}

pub fn init(args: &InitArgs) -> anyhow::Result<ExitCode> {
    let dir = &args.name;
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{} does not end in a name", dir.display()))?;
    check_name(name)?;
    if dir.exists() && std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_some()) {
        bail!("{} already exists and is not empty", dir.display());
    }
    let class = class_name(name);
    let vars: &[(&str, &str)] = &[("id", name), ("class", &class)];
    let manifest = Manifest {
        name: name.to_string(),
        lang: args.lang,
        entry: None,
    };
    let mut files: Vec<(PathBuf, String)> = vec![
        (
            MANIFEST.into(),
            format!(
                "# Written by `lucid auditor init`; read by `lucid auditor build`.\n{}",
                toml::to_string(&manifest)?
            ),
        ),
        ("wit/auditor.wit".into(), WIT.to_string()),
    ];
    let (source, next) = match args.lang {
        Lang::Rust => {
            let sdk = rust_sdk(args.sdk.as_deref())?;
            let sdk = sdk.to_string_lossy().replace('\\', "/");
            files.push((
                "Cargo.toml".into(),
                fill(RUST_CARGO, &[("id", name), ("sdk", &sdk)]),
            ));
            files.push(("src/lib.rs".into(), fill(RUST_LIB, vars)));
            files.push((".gitignore".into(), "/target\n*.wasm\n".into()));
            ("src/lib.rs", ("cargo test", "native unit tests"))
        }
        Lang::Python => {
            files.push(("app.py".into(), fill(PY_APP, vars)));
            files.push(("lucid_auditor.py".into(), PY_SDK.to_string()));
            files.push((".gitignore".into(), "__pycache__/\n*.wasm\n".into()));
            (
                "app.py",
                (
                    "python3 -c 'import app'",
                    "the SDK also runs in plain CPython, for tests",
                ),
            )
        }
        Lang::Js => {
            files.push(("auditor.js".into(), fill(JS_APP, vars)));
            files.push(("lucid-auditor.js".into(), JS_SDK.to_string()));
            files.push(("lucid-auditor.d.ts".into(), JS_SDK_TYPES.to_string()));
            files.push(("auditor.test.js".into(), fill(JS_TEST, vars)));
            files.push(("package.json".into(), fill(JS_PACKAGE, vars)));
            files.push((".gitignore".into(), "node_modules/\n*.wasm\n".into()));
            (
                "auditor.js",
                (
                    "npm install && npm test",
                    "componentize-js, once; node tests",
                ),
            )
        }
    };
    for (path, text) in &files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let shown = dir.display();
    println!(
        "created {} auditor '{name}' in {shown}: edit {shown}/{source}\n\nnext:\n  (cd {shown} && {})   # {}\n  lucid auditor build {shown}\n  lucid auditor test {shown}/{name}.wasm --claims\n  cp {shown}/{name}.wasm plugins/",
        args.lang.as_str(),
        next.0,
        next.1
    );
    Ok(ExitCode::SUCCESS)
}

fn read_manifest(dir: &Path) -> anyhow::Result<Manifest> {
    let path = dir.join(MANIFEST);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "{} is not an auditor project: it has no {MANIFEST} (start one with `lucid auditor init NAME --lang rust|python|js`)",
            dir.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let manifest: Manifest =
        toml::from_str(&text).with_context(|| format!("{} is invalid", path.display()))?;
    check_name(&manifest.name).with_context(|| format!("{}", path.display()))?;
    Ok(manifest)
}

pub fn build(args: &BuildArgs) -> anyhow::Result<ExitCode> {
    let dir = args
        .dir
        .canonicalize()
        .with_context(|| format!("cannot open project directory {}", args.dir.display()))?;
    let manifest = read_manifest(&dir)?;
    let out = match &args.out {
        Some(out) => {
            std::path::absolute(out).with_context(|| format!("cannot resolve {}", out.display()))?
        }
        None => dir.join(format!("{}.wasm", manifest.name)),
    };
    let started = Instant::now();
    match manifest.lang {
        Lang::Rust => build_rust(&dir, &manifest, &out, args.verbose)?,
        Lang::Python => build_python(&dir, &manifest, &out, args.verbose)?,
        Lang::Js => build_js(&dir, &manifest, &out, args.verbose)?,
    }
    let built = started.elapsed();
    let mut summary = json!({
        "file": out.display().to_string(),
        "lang": manifest.lang.as_str(),
        "build_seconds": (built.as_secs_f64() * 10.0).round() / 10.0,
    });
    if args.no_check {
        let bytes =
            std::fs::read(&out).with_context(|| format!("cannot read {}", out.display()))?;
        summary["sha256"] = lucid::runtime::plugin::sha256_hex(&bytes).into();
        summary["size"] = bytes.len().into();
    } else {
        let auditor = with_progress(&format!("checking {}", file_name(&out)), || {
            let sandbox = Sandbox::new(EngineOptions::default())?;
            let bytes =
                std::fs::read(&out).with_context(|| format!("cannot read {}", out.display()))?;
            Auditor::load(&sandbox, &bytes, &Limits::default()).with_context(|| {
                format!(
                    "{} was built but the gateway would refuse it",
                    out.display()
                )
            })
        })?;
        summary["sha256"] = auditor.sha256.clone().into();
        summary["size"] = auditor.size.into();
        summary["id"] = auditor.vocabulary.id.clone().into();
        summary["version"] = auditor.vocabulary.version.clone().into();
        summary["contract"] = format!("lucid:auditor@{}", auditor.contract_version()).into();
        summary["claims"] = auditor
            .vocabulary
            .claims
            .iter()
            .map(|c| c.name.clone())
            .collect::<Vec<_>>()
            .into();
    }
    emit(&summary.to_string());
    Ok(ExitCode::SUCCESS)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The WIT directory a build uses: the project's `wit/`, or (a project without one) this
/// binary's contract written to `scratch`.
fn wit_dir(dir: &Path, scratch: &Path) -> anyhow::Result<PathBuf> {
    let wit = dir.join("wit");
    if wit.join("auditor.wit").is_file() {
        return Ok(wit);
    }
    let wit = scratch.join("wit");
    std::fs::create_dir_all(&wit).with_context(|| format!("cannot create {}", wit.display()))?;
    std::fs::write(wit.join("auditor.wit"), WIT)
        .with_context(|| format!("cannot write {}", wit.display()))?;
    Ok(wit)
}

/// A tool: an explicit path from `env`, else the first candidate that exists, else `name` on
/// the PATH.
fn find_tool(name: &str, env: &str, candidates: &[PathBuf]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    if let Some(found) = candidates.iter().find(|c| c.is_file()) {
        return Some(found.clone());
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|p| p.join(name))
        .find(|p| p.is_file())
}

fn build_python(dir: &Path, manifest: &Manifest, out: &Path, verbose: bool) -> anyhow::Result<()> {
    let tool = find_tool(
        "componentize-py",
        "LUCID_COMPONENTIZE_PY",
        &[
            dir.join(".venv/bin/componentize-py"),
            dir.join("venv/bin/componentize-py"),
        ],
    )
    .with_context(|| {
        format!(
            "componentize-py is not installed (looked in $LUCID_COMPONENTIZE_PY, {0}/.venv/bin and the PATH); install it with:\n  pip install componentize-py=={COMPONENTIZE_PY}",
            dir.display()
        )
    })?;
    let entry = manifest.entry.as_deref().unwrap_or("app");
    let scratch = tempfile::tempdir()?;
    let wit = wit_dir(dir, scratch.path())?;
    let mut command = Command::new(&tool);
    command
        .current_dir(dir)
        .arg("-d")
        .arg(&wit)
        .args(["-w", "auditor-plugin", "componentize", "--stub-wasi"])
        .arg("-p")
        .arg(dir);
    // The SDK is vendored into the project by `init`; a project without it (the examples in
    // the Lucid repository) gets this binary's.
    if !dir.join("lucid_auditor.py").is_file() {
        std::fs::write(scratch.path().join("lucid_auditor.py"), PY_SDK)?;
        command.arg("-p").arg(scratch.path());
    }
    command.arg(entry).arg("-o").arg(out);
    run_tool(
        &format!("building {} (python, componentize-py)", manifest.name),
        &mut command,
        verbose,
    )
}

fn build_js(dir: &Path, manifest: &Manifest, out: &Path, verbose: bool) -> anyhow::Result<()> {
    let Some(_) = find_tool("node", "LUCID_NODE", &[]) else {
        bail!(
            "Node.js is not installed; install Node.js 20 or later (Debian: apt-get install nodejs npm)"
        );
    };
    let tool = find_tool(
        "componentize-js",
        "LUCID_COMPONENTIZE_JS",
        &[dir.join("node_modules/.bin/componentize-js")],
    )
    .with_context(|| {
        format!(
            "componentize-js is not installed (looked in $LUCID_COMPONENTIZE_JS, {0}/node_modules/.bin and the PATH); install it with:\n  npm install --prefix {0} @bytecodealliance/componentize-js@{COMPONENTIZE_JS}",
            dir.display()
        )
    })?;
    let entry = manifest.entry.as_deref().unwrap_or("auditor.js");
    let scratch = tempfile::tempdir()?;
    let wit = wit_dir(dir, scratch.path())?;
    // componentize-js resolves imports only below its working directory. A project has the SDK
    // beside its source (`init` vendors it); one without it (the examples in the Lucid
    // repository) is built from a copy with this binary's SDK added.
    // (A symbolic link to the SDK, as in the examples, is not followed by componentize-js.)
    let vendored =
        std::fs::symlink_metadata(dir.join("lucid-auditor.js")).is_ok_and(|m| m.is_file());
    let source = if vendored {
        dir.to_path_buf()
    } else {
        let copy = scratch.path().join("src");
        copy_sources(dir, &copy)?;
        std::fs::write(copy.join("lucid-auditor.js"), JS_SDK)
            .with_context(|| format!("cannot write {}", copy.display()))?;
        copy
    };
    let mut command = Command::new(&tool);
    command
        .current_dir(&source)
        .arg(entry)
        .arg("--wit")
        .arg(&wit)
        .args(["--world-name", "auditor-plugin"])
        // Auditors get no clock, randomness, stdio or network at call time.
        .args(["-d", "stdio", "random", "clocks", "http", "fetch-event"])
        .arg("-o")
        .arg(out);
    run_tool(
        &format!("building {} (js, componentize-js)", manifest.name),
        &mut command,
        verbose,
    )
}

/// Copy a JavaScript project's sources (not `node_modules`, `.git` or built `.wasm`).
fn copy_sources(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let entry = entry?;
        let name = entry.file_name();
        let path = entry.path();
        let kind = entry.file_type()?;
        if name == "node_modules" || name == ".git" || path.extension().is_some_and(|e| e == "wasm")
        {
            continue;
        }
        if kind.is_dir() {
            copy_sources(&path, &to.join(&name))?;
        } else if kind.is_file() {
            std::fs::copy(&path, to.join(&name))
                .with_context(|| format!("cannot copy {}", path.display()))?;
        }
    }
    Ok(())
}

fn build_rust(dir: &Path, manifest: &Manifest, out: &Path, verbose: bool) -> anyhow::Result<()> {
    let cargo = find_tool("cargo", "CARGO", &[]).context(
        "cargo is not installed; install Rust with rustup (https://rustup.rs), then: rustup target add wasm32-wasip2",
    )?;
    if let Some(rustup) = find_tool("rustup", "LUCID_RUSTUP", &[]) {
        let installed = Command::new(rustup)
            .current_dir(dir)
            .args(["target", "list", "--installed"])
            .output();
        if let Ok(listed) = installed
            && listed.status.success()
            && !String::from_utf8_lossy(&listed.stdout)
                .lines()
                .any(|l| l.trim() == "wasm32-wasip2")
        {
            bail!(
                "the Rust target wasm32-wasip2 is not installed; install it with:\n  rustup target add wasm32-wasip2"
            );
        }
    }
    let mut command = Command::new(cargo);
    command
        .current_dir(dir)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format",
            "json-render-diagnostics",
            "--manifest-path",
        ])
        .arg(dir.join("Cargo.toml"));
    let output = run_tool_output(
        &format!("building {} (rust, cargo)", manifest.name),
        &mut command,
        verbose,
    )?;
    // cargo names the artifact; the target dir may be anywhere (CARGO_TARGET_DIR).
    let artifact = output
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| {
            m["manifest_path"]
                .as_str()
                .is_some_and(|p| Path::new(p) == dir.join("Cargo.toml"))
        })
        .flat_map(|m| {
            m["filenames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f.as_str().map(PathBuf::from))
                .collect::<Vec<_>>()
        })
        .find(|f| f.extension().is_some_and(|e| e == "wasm"))
        .context(
            "cargo built no .wasm: is the crate a cdylib (crate-type = [\"cdylib\", \"rlib\"])?",
        )?;
    std::fs::copy(&artifact, out)
        .with_context(|| format!("cannot copy {} to {}", artifact.display(), out.display()))?;
    Ok(())
}

fn run_tool(label: &str, command: &mut Command, verbose: bool) -> anyhow::Result<()> {
    run_tool_output(label, command, verbose).map(drop)
}

/// Output kept of a tool: its last bytes (a failing build's error is at the end).
const MAX_TOOL_OUTPUT: usize = 4 << 20;

/// Run a build tool with a progress line; return its stdout. Its stderr (and stdout) are shown
/// when it fails, or with `verbose`.
fn run_tool_output(label: &str, command: &mut Command, verbose: bool) -> anyhow::Result<String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {program}"))?;
    let stdout = collect(child.stdout.take());
    let stderr = collect(child.stderr.take());
    let status = with_progress(label, || {
        child
            .wait()
            .with_context(|| format!("waiting for {program}"))
    })?;
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if !status.success() || verbose {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(stderr.as_bytes());
        if !stdout.trim_start().starts_with('{') {
            let _ = err.write_all(stdout.as_bytes());
        }
    }
    if !status.success() {
        bail!("{label}: {program} failed ({status}); its output is above");
    }
    Ok(stdout)
}

fn collect(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut kept: Vec<u8> = Vec::new();
        if let Some(mut pipe) = pipe {
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                kept.extend_from_slice(&buf[..n]);
                if kept.len() > MAX_TOOL_OUTPUT {
                    kept.drain(..kept.len() - MAX_TOOL_OUTPUT);
                }
            }
        }
        String::from_utf8_lossy(&kept).into_owned()
    })
}

/// Run `work` while a progress line on stderr says it is alive: redrawn every 200 ms on a
/// terminal, one line every 15 s otherwise (logs, CI). Ends with the time it took.
fn with_progress<T>(label: &str, work: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    let tty = std::io::stderr().is_terminal();
    let done = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
    let started = Instant::now();
    let ticker = {
        let done = done.clone();
        let label = label.to_string();
        std::thread::spawn(move || {
            let (lock, wake) = &*done;
            let every = if tty {
                Duration::from_millis(200)
            } else {
                Duration::from_secs(15)
            };
            if !tty {
                eprintln!("{label} …");
            }
            let mut finished = lock.lock().unwrap_or_else(|e| e.into_inner());
            while !*finished {
                let (guard, _) = wake
                    .wait_timeout(finished, every)
                    .unwrap_or_else(|e| e.into_inner());
                finished = guard;
                if *finished {
                    break;
                }
                let secs = started.elapsed().as_secs();
                if tty {
                    eprint!("\r\x1b[2K{label} … {secs}s");
                } else {
                    eprintln!("{label} … still running ({secs}s)");
                }
                let _ = std::io::stderr().flush();
            }
        })
    };
    let result = work();
    {
        let (lock, wake) = &*done;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
    }
    let _ = ticker.join();
    let secs = started.elapsed().as_secs_f64();
    let outcome = if result.is_ok() { "done" } else { "failed" };
    if tty {
        eprintln!("\r\x1b[2K{label}: {outcome} in {secs:.1}s");
    } else {
        eprintln!("{label}: {outcome} in {secs:.1}s");
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_classes() {
        assert!(check_name("shout").is_ok());
        assert!(check_name("my-auditor_2").is_ok());
        for bad in ["", "Shout", "2shout", "sh out", "shöut", &"a".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(class_name("shout"), "Shout");
        assert_eq!(class_name("my-auditor_2"), "MyAuditor2");
    }

    #[test]
    fn templates_fill_every_placeholder() {
        let vars: &[(&str, &str)] = &[("id", "shout"), ("class", "Shout"), ("sdk", "/sdk")];
        for template in [PY_APP, JS_APP, JS_TEST, JS_PACKAGE, RUST_CARGO, RUST_LIB] {
            let filled = fill(template, vars);
            assert!(!filled.contains("{{"), "unfilled placeholder in:\n{filled}");
        }
    }
}
