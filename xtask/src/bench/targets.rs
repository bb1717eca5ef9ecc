//! The servers benchmarked and the mocks behind them: nginx (the fixed-answer mock upstream and
//! the plain `proxy_pass` floor), and Lucid's own commands (`mock-upstream`, `bench-proxy`,
//! `serve` full and bare).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::time::Duration;

use anyhow::{Context, bail};

use super::server::{Ready, Server, free_port};

/// The answer of the nginx mock upstream: a fixed chat completion.
pub const FIXED_COMPLETION: &str = r#"{"id":"chatcmpl-mock","object":"chat.completion","created":0,"model":"mock-1","choices":[{"index":0,"message":{"role":"assistant","content":"Mock answer."},"finish_reason":"stop"}],"usage":{"prompt_tokens":40,"completion_tokens":3,"total_tokens":43}}"#;

/// How long Lucid may take to start (it compiles its auditors into a fresh data dir).
const LUCID_START: Duration = Duration::from_secs(90);
const NGINX_START: Duration = Duration::from_secs(15);

/// One thing load is sent to.
pub struct Target {
    /// A short stable name (JSON, file names): `lucid-full`.
    pub key: String,
    /// What it is, for tables.
    pub label: String,
    /// The URL requests are POSTed to.
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// Whether a request carrying a payment card number must be refused (a guardrail is on):
    /// checked before any measurement, so that a guardrail that is not working is never timed.
    pub refuses_cards: bool,
    pub server: Rc<Server>,
}

impl Target {
    pub fn new(key: &str, label: &str, server: &Rc<Server>) -> Target {
        Target {
            key: key.to_string(),
            label: label.to_string(),
            url: format!("{}/v1/chat/completions", server.url),
            headers: Vec::new(),
            refuses_cards: false,
            server: server.clone(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.server.pid()
    }
}

/// The mock model every target ends at.
pub struct Upstream {
    pub server: Rc<Server>,
    /// What it is, for reports.
    pub kind: &'static str,
}

impl Upstream {
    /// `nginx`: a fixed completion from nginx (costs nearly nothing); `lucid`: `lucid
    /// mock-upstream` (answers from the request, in Rust).
    pub fn start(kind: &str, work: &Path) -> anyhow::Result<Upstream> {
        match kind {
            "nginx" => Ok(Upstream {
                server: Rc::new(nginx_mock(&work.join("nginx-mock"))?),
                kind: "nginx returning a fixed chat completion",
            }),
            "lucid" => {
                let mut cmd = Command::new(crate::lucid_bin());
                cmd.args(["mock-upstream", "--listen", "127.0.0.1:0"]);
                Ok(Upstream {
                    server: Rc::new(Server::start(
                        "lucid mock-upstream",
                        cmd,
                        Ready::Line("lucid listening on"),
                        LUCID_START,
                    )?),
                    kind: "lucid mock-upstream",
                })
            }
            other => bail!("unknown mock upstream '{other}': expected nginx or lucid"),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn authority(&self) -> &str {
        self.server
            .url
            .strip_prefix("http://")
            .unwrap_or(&self.server.url)
    }
}

/// nginx's version, installing Debian's package when it is missing.
pub fn ensure_nginx() -> anyhow::Result<String> {
    if let Some(v) = nginx_version() {
        return Ok(v);
    }
    eprintln!("xtask: nginx is missing; installing Debian's nginx package");
    crate::apt_install(&["nginx"])?;
    nginx_version().context("nginx was installed but `nginx -v` fails")
}

pub fn nginx_version() -> Option<String> {
    let out = Command::new("nginx").arg("-v").output().ok()?;
    // nginx prints its version on stderr.
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stderr)
            .trim()
            .trim_start_matches("nginx version: ")
            .to_string()
    })
}

/// nginx answering every request with [`FIXED_COMPLETION`].
pub fn nginx_mock(dir: &Path) -> anyhow::Result<Server> {
    let server =
        format!("location / {{ default_type application/json; return 200 '{FIXED_COMPLETION}'; }}");
    nginx("nginx mock upstream", dir, "", &server)
}

/// nginx as a plain pass-through (`proxy_pass`, keep-alive to the upstream).
pub fn nginx_proxy(dir: &Path, upstream: &str) -> anyhow::Result<Server> {
    let http =
        format!("upstream mock {{ server {upstream}; keepalive 64; keepalive_requests 1000000; }}");
    let server = "location / { proxy_pass http://mock; proxy_http_version 1.1; \
                  proxy_set_header Connection \"\"; }";
    nginx("nginx proxy_pass", dir, &http, server)
}

/// One nginx process (no master, one worker: its CPU is one process's) on a loopback port,
/// everything it writes under `dir`.
fn nginx(name: &str, dir: &Path, http: &str, server: &str) -> anyhow::Result<Server> {
    fresh_dir(dir)?;
    let port = free_port()?;
    let d = dir.display();
    let config = format!(
        "daemon off;\n\
         master_process off;\n\
         worker_processes 1;\n\
         pid {d}/nginx.pid;\n\
         error_log stderr warn;\n\
         events {{ worker_connections 8192; }}\n\
         http {{\n\
         access_log off;\n\
         keepalive_requests 1000000;\n\
         client_max_body_size 16m;\n\
         client_body_buffer_size 1m;\n\
         client_body_temp_path {d}/client;\n\
         proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n\
         uwsgi_temp_path {d}/uwsgi;\n\
         scgi_temp_path {d}/scgi;\n\
         {http}\n\
         server {{ listen 127.0.0.1:{port}; {server} }}\n\
         }}\n"
    );
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, config).with_context(|| format!("cannot write {}", conf.display()))?;
    let mut cmd = Command::new("nginx");
    cmd.arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf)
        .args(["-e", "stderr"]);
    Server::start(name, cmd, Ready::Port(port), NGINX_START)
}

/// `lucid bench-proxy`: Lucid's HTTP stack and pooled client, nothing else.
pub fn lucid_bench_proxy(upstream: &Upstream) -> anyhow::Result<Server> {
    let mut cmd = Command::new(crate::lucid_bin());
    cmd.args(["bench-proxy", "--listen", "127.0.0.1:0", "--upstream"])
        .arg(&upstream.server.url);
    Server::start(
        "lucid bench-proxy",
        cmd,
        Ready::Line("lucid listening on"),
        LUCID_START,
    )
}

/// The policy a Lucid gateway decides with.
pub enum Policy<'a> {
    /// A shipped preset (`--preset NAME`).
    Preset(&'a str),
    /// One policy file with this text (`--policies DIR`).
    Cedar(&'a str),
}

/// Every exchange is allowed.
pub const PERMIT_ALL: &str = "permit(principal, action, resource);\n";

/// How a `lucid serve` is set up.
pub struct Gateway<'a> {
    pub name: &'a str,
    /// Its data dir (made fresh), under target/.
    pub data_dir: PathBuf,
    pub plugins: PathBuf,
    pub policy: Policy<'a>,
    /// `lucid.toml` contents, if any.
    pub config: Option<String>,
    /// Extra arguments (`--store URL`, `--replica NAME`).
    pub args: Vec<String>,
}

impl Gateway<'_> {
    pub fn start(&self, upstream_url: &str) -> anyhow::Result<Server> {
        fresh_dir(&self.data_dir)?;
        let mut cmd = Command::new(crate::lucid_bin());
        cmd.current_dir(crate::root())
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--upstream",
                upstream_url,
            ])
            .arg("--plugins")
            .arg(&self.plugins)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(&self.args);
        match self.policy {
            Policy::Preset(name) => {
                cmd.args(["--preset", name]);
            }
            Policy::Cedar(text) => {
                let dir = self.data_dir.join("policies");
                std::fs::create_dir_all(&dir)?;
                std::fs::write(dir.join("bench.cedar"), text)?;
                cmd.arg("--policies").arg(dir);
            }
        }
        if let Some(config) = &self.config {
            let path = self.data_dir.join("lucid.toml");
            std::fs::write(&path, config)?;
            cmd.arg("--config").arg(path);
        }
        Server::start(
            self.name,
            cmd,
            Ready::Line("lucid listening on"),
            LUCID_START,
        )
    }
}

/// Lucid with the shipped auditors (3 auditors, request and response phases), the balanced
/// preset, signing and the SQLite store (`synchronous=FULL`).
pub fn lucid_full(work: &Path, name: &str) -> Gateway<'static> {
    Gateway {
        name: "lucid serve (full)",
        data_dir: work.join(name),
        plugins: crate::root().join("plugins"),
        policy: Policy::Preset("balanced"),
        config: None,
        args: Vec::new(),
    }
}

/// Lucid with no auditor and a permit-all policy: the receipt path alone (decision, signing,
/// SQLite FULL).
pub fn lucid_bare(work: &Path, name: &str) -> anyhow::Result<Gateway<'static>> {
    let plugins = work.join("plugins-none");
    std::fs::create_dir_all(&plugins)
        .with_context(|| format!("cannot create {}", plugins.display()))?;
    Ok(Gateway {
        name: "lucid serve (bare)",
        data_dir: work.join(name),
        plugins,
        policy: Policy::Cedar(PERMIT_ALL),
        config: None,
        args: Vec::new(),
    })
}

/// Remove and re-create a directory.
pub fn fresh_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot remove {}", dir.display())),
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}
