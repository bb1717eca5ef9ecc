//! The gateways users would pick instead, installed into target/ from their registries and run
//! against the same mock upstream: LiteLLM's proxy (PyPI) and Portkey's gateway (npm), each also
//! with one regex guardrail refusing payment card numbers.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::time::Duration;

use anyhow::{Context, bail};

use super::server::{Ready, Server, free_port};
use super::targets::{Target, Upstream};

/// LiteLLM's proxy as measured in FLOORS.md (1.107.0 was a compromised release: never take
/// "latest" here).
pub const LITELLM_VERSION: &str = "1.106.2";
pub const PORTKEY_VERSION: &str = "1.15.2";

/// The master key LiteLLM is started with (it refuses to run unauthenticated); sent by the load.
const LITELLM_KEY: &str = "sk-lucid-bench-0123456789abcdef0123456789abcdef";

/// The guardrails' pattern: a 13 to 16 digit card number, digits optionally separated.
const CARD_REGEX: &str = r"\b(?:\d[ -]?){13,16}\b";

/// LiteLLM imports a large dependency tree at start.
const LITELLM_START: Duration = Duration::from_secs(180);
const PORTKEY_START: Duration = Duration::from_secs(60);

fn peers_dir() -> PathBuf {
    crate::root().join("target/bench/peers")
}

fn litellm_venv() -> PathBuf {
    peers_dir().join("litellm")
}

fn portkey_dir() -> PathBuf {
    peers_dir().join("portkey")
}

fn portkey_script() -> PathBuf {
    portkey_dir().join("node_modules/@portkey-ai/gateway/build/start-server.js")
}

/// The installed LiteLLM version, if any.
pub fn litellm_installed() -> Option<String> {
    let out = Command::new(litellm_venv().join("bin/python"))
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('litellm'))",
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `litellm[proxy]==LITELLM_VERSION` in a venv under target/bench/peers.
pub fn ensure_litellm() -> anyhow::Result<String> {
    if litellm_installed().as_deref() == Some(LITELLM_VERSION) {
        return Ok(LITELLM_VERSION.into());
    }
    let venv = litellm_venv();
    eprintln!(
        "xtask: installing litellm[proxy]=={LITELLM_VERSION} into {} (a few minutes)",
        venv.display()
    );
    let mut make = Command::new("python3");
    make.args(["-m", "venv"]).arg(&venv);
    crate::exec(make).context("cannot create LiteLLM's venv (is python3-venv installed?)")?;
    let mut pip = Command::new(venv.join("bin/pip"));
    pip.args(["install", "--quiet", "--disable-pip-version-check"])
        .arg(format!("litellm[proxy]=={LITELLM_VERSION}"));
    crate::exec(pip).context("cannot install LiteLLM's proxy from PyPI")?;
    litellm_installed().context("LiteLLM was installed but cannot be imported")
}

/// The installed Portkey gateway version, if any.
pub fn portkey_installed() -> Option<String> {
    let manifest = portkey_dir().join("node_modules/@portkey-ai/gateway/package.json");
    let text = std::fs::read_to_string(manifest).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let version = json.get("version")?.as_str()?.to_string();
    portkey_script().is_file().then_some(version)
}

/// `@portkey-ai/gateway@PORTKEY_VERSION` under target/bench/peers/portkey (run with node).
pub fn ensure_portkey() -> anyhow::Result<String> {
    node_version().context("Node.js is needed for Portkey's gateway (Debian: nodejs npm)")?;
    if portkey_installed().as_deref() == Some(PORTKEY_VERSION) {
        return Ok(PORTKEY_VERSION.into());
    }
    let dir = portkey_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    eprintln!(
        "xtask: installing @portkey-ai/gateway@{PORTKEY_VERSION} into {}",
        dir.display()
    );
    let mut npm = Command::new("npm");
    npm.current_dir(&dir)
        .args(["install", "--no-audit", "--no-fund", "--ignore-scripts"])
        .arg(format!("@portkey-ai/gateway@{PORTKEY_VERSION}"));
    let shown = format!("npm install @portkey-ai/gateway@{PORTKEY_VERSION}");
    eprintln!("$ {shown} (in {})", dir.display());
    let status = npm.status().context("cannot run npm")?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    portkey_installed().context("Portkey's gateway was installed but its start script is missing")
}

pub fn node_version() -> Option<String> {
    let out = Command::new("node").arg("--version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// LiteLLM's proxy routing `mock-1` to the mock upstream; with `guard`, its built-in content
/// filter (`litellm_content_filter`) blocks card numbers in every request (`default_on`).
pub fn litellm(work: &Path, upstream: &Upstream, guard: bool) -> anyhow::Result<Server> {
    let dir = work.join(if guard { "litellm-guard" } else { "litellm" });
    super::targets::fresh_dir(&dir)?;
    let mut config = format!(
        "model_list:\n\
         \x20 - model_name: mock-1\n\
         \x20   litellm_params:\n\
         \x20     model: openai/mock-1\n\
         \x20     api_base: http://{}/v1\n\
         \x20     api_key: sk-mock\n\
         litellm_settings:\n\
         \x20 telemetry: false\n\
         general_settings:\n\
         \x20 master_key: {LITELLM_KEY}\n",
        upstream.authority()
    );
    if guard {
        config += &format!(
            "guardrails:\n\
             \x20 - guardrail_name: card-regex\n\
             \x20   litellm_params:\n\
             \x20     guardrail: litellm_content_filter\n\
             \x20     mode: pre_call\n\
             \x20     default_on: true\n\
             \x20     patterns:\n\
             \x20       - pattern_type: regex\n\
             \x20         name: card_number\n\
             \x20         pattern: '{CARD_REGEX}'\n\
             \x20         action: BLOCK\n"
        );
    }
    let path = dir.join("config.yaml");
    std::fs::write(&path, config).with_context(|| format!("cannot write {}", path.display()))?;
    let port = free_port()?;
    let mut cmd = Command::new(litellm_venv().join("bin/litellm"));
    cmd.current_dir(&dir)
        .arg("--config")
        .arg(&path)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        // Offline: the bundled model cost map, no telemetry.
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        .env("LITELLM_TELEMETRY", "False")
        .env("NO_DOCS", "True");
    let name = if guard {
        "LiteLLM proxy (regex guardrail)"
    } else {
        "LiteLLM proxy"
    };
    Server::start(name, cmd, Ready::Port(port), LITELLM_START)
}

/// Portkey's gateway (no UI); where requests go is in each request's `x-portkey-config`.
pub fn portkey() -> anyhow::Result<Server> {
    let port = free_port()?;
    let mut cmd = Command::new("node");
    cmd.current_dir(portkey_dir())
        .arg(portkey_script())
        .arg(format!("--port={port}"))
        .arg("--headless")
        .env("NODE_ENV", "production");
    Server::start("Portkey gateway", cmd, Ready::Port(port), PORTKEY_START)
}

/// The load's view of the peers: LiteLLM without and with its guardrail (two processes), and
/// Portkey without and with its `default.regexMatch` guardrail (one process, the guardrail is
/// in the request's config header).
pub fn targets(
    litellm_plain: &Rc<Server>,
    litellm_guard: &Rc<Server>,
    portkey: &Rc<Server>,
    upstream: &Upstream,
) -> Vec<Target> {
    let auth = vec![("authorization".to_string(), format!("Bearer {LITELLM_KEY}"))];
    let mut plain = Target::new(
        "litellm",
        &format!("LiteLLM proxy {LITELLM_VERSION}"),
        litellm_plain,
    );
    plain.headers = auth.clone();
    let mut guarded = Target::new(
        "litellm-guard",
        &format!("LiteLLM proxy {LITELLM_VERSION} + regex guardrail"),
        litellm_guard,
    );
    guarded.headers = auth;
    guarded.refuses_cards = true;
    let config = |guard: bool| {
        let mut config = serde_json::json!({
            "provider": "openai",
            "api_key": "sk-mock",
            "custom_host": format!("http://{}/v1", upstream.authority()),
        });
        if guard {
            config["input_guardrails"] = serde_json::json!([{
                "default.regexMatch": {"rule": CARD_REGEX, "not": true},
                "deny": true,
            }]);
        }
        vec![("x-portkey-config".to_string(), config.to_string())]
    };
    let mut pk = Target::new(
        "portkey",
        &format!("Portkey gateway {PORTKEY_VERSION}"),
        portkey,
    );
    pk.headers = config(false);
    let mut pk_guard = Target::new(
        "portkey-guard",
        &format!("Portkey gateway {PORTKEY_VERSION} + regex guardrail"),
        portkey,
    );
    pk_guard.headers = config(true);
    pk_guard.refuses_cards = true;
    vec![plain, guarded, pk, pk_guard]
}
