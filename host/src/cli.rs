//! The `lucid` command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::cache::CompileCache;
use crate::claim::Phase;
use crate::plugin::{Auditor, ObservationInput};
use crate::plugin_dir::{Admission, EntryStatus, PluginLoader, PluginSet};
use crate::reload::PluginHost;
use crate::sandbox::{EngineOptions, Limits, Sandbox};
use crate::signing::{self, TrustedKeys};

/// Lucid: a verifiable AI gateway.
///
/// Lucid sits in front of an OpenAI-compatible model, runs sandboxed WebAssembly auditors over
/// every request and response, decides with one Cedar policy and emits a signed, hash-chained
/// receipt for each exchange.
#[derive(Debug, Parser)]
#[command(name = "lucid", version, propagate_version = true)]
pub struct Cli {
    /// Log filter (tracing syntax, e.g. `info` or `lucid=debug`); overrides LUCID_LOG.
    #[arg(long, global = true, value_name = "FILTER")]
    pub log: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load the plugin directory and keep it loaded, reloading on every change.
    ///
    /// Prints the loaded and refused plugins (with their SHA-256 and the plugin_set_hash) at
    /// start and after every change of the directory.
    Serve(ServeArgs),
    /// Work with a single auditor plugin (.wasm component).
    #[command(subcommand)]
    Auditor(AuditorCommand),
    /// Verify, export or produce receipt chains (AttestationResults).
    #[command(subcommand)]
    Chain(ChainCommand),
    /// Cedar policies: print the schema, validate a policy directory, run its tests.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Serve only the built-in mock model (an OpenAI-compatible, deterministic `mock-1`), for
    /// trying clients and as a benchmark upstream.
    MockUpstream {
        #[arg(long, default_value = "127.0.0.1:8081", value_name = "ADDR")]
        listen: String,
    },
    /// A plain pass-through proxy to an upstream, the floor `cargo xtask bench gateway` compares
    /// Lucid with.
    #[command(hide = true)]
    BenchProxy {
        #[arg(long, default_value = "127.0.0.1:8082", value_name = "ADDR")]
        listen: String,
        #[arg(long, value_name = "URL")]
        upstream: String,
    },
    /// Generate an Ed25519 key pair for signing auditors: KEY (secret, PKCS#8 PEM, mode 0600)
    /// and KEY.pub (public, SPKI PEM).
    Keygen {
        /// Where to write the secret key; the public key goes to the same path plus `.pub`.
        #[arg(long, value_name = "KEY")]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Print the Cedar schema generated from the auditors of a plugin directory.
    Schema {
        /// Directory of auditor plugins.
        #[arg(long, default_value = "plugins", value_name = "DIR")]
        plugins: PathBuf,
    },
    /// Validate a policy directory strictly against the schema of the plugins; prints Cedar's
    /// diagnostics (file:line: message) and exits non-zero on any.
    Validate {
        /// The policy directory (*.cedar).
        dir: PathBuf,
        /// Directory of auditor plugins.
        #[arg(long, default_value = "plugins", value_name = "DIR")]
        plugins: PathBuf,
    },
    /// Run the cases of DIR/tests.json and print a pass/fail table.
    Test {
        /// The policy directory (*.cedar and tests.json).
        dir: PathBuf,
        /// Directory of auditor plugins whose vocabularies make the schema; the shipped
        /// auditors' vocabularies when absent.
        #[arg(long, value_name = "DIR")]
        plugins: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ChainCommand {
    /// Verify a chain: recompute every ar_hash, check every signature, the linkage, depth
    /// monotonicity and splices; report forks. Prints JSON {"valid", "chain_depth", "length",
    /// "splices", "forks", "errors"} and exits non-zero when invalid.
    Verify {
        /// Verify the chain that ends at this AR (walking ar_references back to its genesis)
        /// instead of the whole store.
        #[arg(long, value_name = "AR_HASH")]
        from: Option<String>,
        #[command(flatten)]
        source: ChainSource,
    },
    /// Print a chain, one AR per line, in chain order.
    Export {
        /// Output format.
        #[arg(long, default_value = "jsonl", value_parser = ["jsonl"])]
        format: String,
        #[command(flatten)]
        source: ChainSource,
    },
    /// Sign and store N synthetic ARs with the real signer and store (for trying verification);
    /// prints each ar_hash once it is durably stored.
    Demo {
        /// How many ARs.
        count: u64,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        receipt: ReceiptArgs,
        /// Concurrent writers.
        #[arg(long, default_value_t = 1)]
        writers: u64,
    },
}

/// Where a chain is read from: a JSONL file, a SQLite file, a store URL, or the data dir.
#[derive(Debug, Args)]
pub struct ChainSource {
    /// A JSONL file of ARs.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["db", "store"])]
    pub file: Option<PathBuf>,
    /// A SQLite evidence database.
    #[arg(long, value_name = "PATH", conflicts_with = "store")]
    pub db: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// The evidence store.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Evidence store URL (`postgres://…` or `sqlite:PATH`); default `<data-dir>/evidence.db`.
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Data directory (evidence store, compile cache).
    #[arg(long, default_value = ".lucid", value_name = "DIR")]
    pub data_dir: PathBuf,
    /// This gateway's chain name in a shared (PostgreSQL) store.
    #[arg(long, default_value = "default")]
    pub replica: String,
}

/// The receipt signer component.
#[derive(Debug, Args)]
pub struct ReceiptArgs {
    /// The receipt signer component; default `lucid_receipt.wasm` next to the `lucid` binary
    /// (or $LUCID_RECEIPT).
    #[arg(long, value_name = "FILE")]
    pub receipt: Option<PathBuf>,
}

impl ReceiptArgs {
    pub fn path(&self) -> anyhow::Result<PathBuf> {
        if let Some(p) = &self.receipt {
            return Ok(p.clone());
        }
        if let Some(p) = std::env::var_os("LUCID_RECEIPT") {
            return Ok(PathBuf::from(p));
        }
        let exe = std::env::current_exe().context("cannot locate the lucid binary")?;
        let beside = exe.with_file_name("lucid_receipt.wasm");
        if !beside.is_file() {
            bail!(
                "no receipt signer component at {} (build it with `cargo xtask build`, or pass --receipt FILE)",
                beside.display()
            );
        }
        Ok(beside)
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free one (the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: String,
    /// The model API: `mock` (built-in deterministic model) or the base URL of an
    /// OpenAI-compatible API. Default: `upstream.url` from the config, else `mock`.
    #[arg(long, value_name = "URL|mock")]
    pub upstream: Option<String>,
    /// Directory of auditor plugins (*.wasm components).
    #[arg(long, default_value = "plugins", value_name = "DIR")]
    pub plugins: PathBuf,
    /// Directory of Cedar policies (*.cedar); overrides --preset.
    #[arg(long, value_name = "DIR")]
    pub policies: Option<PathBuf>,
    /// A shipped policy preset (starter, balanced, strict: policies/presets/NAME) or bundle
    /// (solo_builder, production_team, regulated_enterprise: policies/bundles/NAME.toml, a preset
    /// plus the enforcement every org starts with).
    #[arg(long, default_value = "balanced", value_name = "NAME")]
    pub preset: String,
    /// Configuration file (lucid.toml); built-in defaults when absent.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub receipt: ReceiptArgs,
    /// Load only plugins with a valid FILE.wasm.sig from a key in --trusted-keys.
    #[arg(long, requires = "trusted_keys")]
    pub require_signed: bool,
    /// Directory of trusted publisher keys (*.pub).
    #[arg(long, value_name = "DIR")]
    pub trusted_keys: Option<PathBuf>,
    /// Largest plugin file accepted, in MiB.
    #[arg(long, default_value_t = 32)]
    pub max_plugin_mib: u64,
    /// Time in-flight requests get to finish after SIGTERM, in seconds.
    #[arg(long, default_value_t = 30)]
    pub grace_secs: u64,
}

#[derive(Debug, Subcommand)]
pub enum AuditorCommand {
    /// Print an auditor's SHA-256 (of the exact file bytes) and its vocabulary as JSON.
    Inspect {
        /// The auditor component.
        file: PathBuf,
    },
    /// Run an auditor once, in the sandbox, over a chat request (and response); print its claims
    /// as JSON.
    Test(Box<TestArgs>),
    /// Sign an auditor: write FILE.wasm.sig, an Ed25519 signature over the file's SHA-256.
    Sign {
        /// The auditor component.
        file: PathBuf,
        /// The secret key (from `lucid keygen`).
        #[arg(long, value_name = "KEY")]
        key: PathBuf,
    },
    /// Verify an auditor's FILE.wasm.sig against a directory of trusted public keys.
    Verify {
        /// The auditor component.
        file: PathBuf,
        /// Directory of trusted publisher keys (*.pub).
        #[arg(long, value_name = "DIR")]
        trusted_keys: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// The auditor component.
    pub file: PathBuf,
    /// The phase to observe.
    #[arg(long, value_parser = parse_phase)]
    pub phase: Phase,
    /// An OpenAI chat-completions request body (JSON file).
    #[arg(long, value_name = "REQUEST.json")]
    pub input: PathBuf,
    /// An OpenAI chat-completions response body (JSON file), for the response and execution
    /// phases.
    #[arg(long, value_name = "RESPONSE.json")]
    pub response: Option<PathBuf>,
    /// An artifact descriptor (JSON file), for the artifact phase.
    #[arg(long, value_name = "ARTIFACTS.json")]
    pub artifacts: Option<PathBuf>,
    /// Set an auditor setting, `name=value` (repeatable). Values are checked against the
    /// declared type; string lists are comma-separated or a JSON array.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub settings: Vec<String>,
    /// Request id passed to the auditor.
    #[arg(long, default_value = "lucid-cli-test")]
    pub request_id: String,
    /// Scope: organisation.
    #[arg(long, default_value = "default")]
    pub org: String,
    /// Scope: workspace.
    #[arg(long, default_value = "default")]
    pub workspace: String,
    /// Scope: agent.
    #[arg(long, default_value = "default")]
    pub agent: String,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Sandbox limits of one guest call.
#[derive(Debug, Args, Clone)]
pub struct LimitArgs {
    /// Wall-clock deadline of one call, in milliseconds.
    #[arg(long, default_value_t = 50)]
    pub deadline_ms: u64,
    /// Memory cap of the guest, in MiB.
    #[arg(long, default_value_t = 64)]
    pub memory_mib: usize,
    /// Instruction budget (fuel) of one call; unlimited when absent.
    #[arg(long)]
    pub fuel: Option<u64>,
}

impl LimitArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            deadline: Duration::from_millis(self.deadline_ms),
            memory_bytes: self.memory_mib << 20,
            fuel: self.fuel,
            ..Limits::default()
        }
    }
}

fn parse_phase(s: &str) -> Result<Phase, String> {
    s.parse()
}

pub fn init_tracing(cli: &Cli) {
    let filter = cli
        .log
        .clone()
        .or_else(|| std::env::var("LUCID_LOG").ok())
        .unwrap_or_else(|| "warn".to_string());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// One line for an error and its causes.
pub fn error_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if parts.last().is_none_or(|last| !last.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ").replace('\n', " ")
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve(&args),
        Command::Auditor(AuditorCommand::Inspect { file }) => inspect(&file),
        Command::Auditor(AuditorCommand::Test(args)) => test(&args),
        Command::Auditor(AuditorCommand::Sign { file, key }) => sign(&file, &key),
        Command::Auditor(AuditorCommand::Verify { file, trusted_keys }) => {
            verify(&file, &trusted_keys)
        }
        Command::Chain(ChainCommand::Verify { from, source }) => {
            chain_verify(from.as_deref(), &source)
        }
        Command::Chain(ChainCommand::Export { source, .. }) => chain_export(&source),
        Command::Chain(ChainCommand::Demo {
            count,
            store,
            receipt,
            writers,
        }) => chain_demo(count, writers, &store, &receipt),
        Command::Policy(PolicyCommand::Schema { plugins }) => {
            let schema = lucid_policy::Schema::from_vocabularies(&plugin_vocabularies(&plugins)?)?;
            emit(schema.text().trim_end());
            Ok(ExitCode::SUCCESS)
        }
        Command::Policy(PolicyCommand::Validate { dir, plugins }) => {
            let schema = lucid_policy::Schema::from_vocabularies(&plugin_vocabularies(&plugins)?)?;
            let policies = lucid_policy::PolicySet::load_dir(&dir)?;
            match lucid_policy::validate(&policies, &schema) {
                Ok(()) => {
                    emit(&format!(
                        "{}: {} policies valid (policy hash {})",
                        dir.display(),
                        policies.len(),
                        policies.hash()
                    ));
                    Ok(ExitCode::SUCCESS)
                }
                Err(diagnostics) => {
                    for d in &diagnostics {
                        eprintln!("{}/{d}", dir.display());
                    }
                    eprintln!(
                        "error: {} problem(s) in {}",
                        diagnostics.len(),
                        dir.display()
                    );
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Policy(PolicyCommand::Test { dir, plugins }) => {
            let vocabularies = match plugins {
                Some(p) => plugin_vocabularies(&p)?,
                None => lucid_policy::shipped_vocabularies(),
            };
            let schema = lucid_policy::Schema::from_vocabularies(&vocabularies)?;
            let report = lucid_policy::run_tests(&dir, &schema)?;
            emit(report.to_string().trim_end());
            Ok(if report.failed() == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::MockUpstream { listen } => serve_router(&listen, crate::gateway::mock::router()),
        Command::BenchProxy { listen, upstream } => {
            serve_router(&listen, crate::gateway::passthrough::router(&upstream))
        }
        Command::Keygen { out } => {
            let id = signing::keygen(&out)?;
            emit(&json!({"secret_key": out.display().to_string(), "public_key": format!("{}.pub", out.display()), "key_id": id}).to_string());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn read_file(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

fn load_auditor(sandbox: &Sandbox, file: &Path, limits: &Limits) -> anyhow::Result<Auditor> {
    let bytes = read_file(file, "auditor")?;
    Auditor::load(sandbox, &bytes, limits).with_context(|| file.display().to_string())
}

fn inspect(file: &Path) -> anyhow::Result<ExitCode> {
    let sandbox = Sandbox::new(EngineOptions::default())?;
    let auditor = load_auditor(&sandbox, file, &Limits::default())?;
    let out = json!({
        "file": file.display().to_string(),
        "sha256": auditor.sha256,
        "size": auditor.size,
        "vocabulary": auditor.vocabulary,
    });
    emit(&serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}

/// Read a JSON document that must be an object; return it as compact text.
fn read_json_object(path: &Path, what: &str) -> anyhow::Result<String> {
    let bytes = read_file(path, what)?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{what} {} is not valid JSON", path.display()))?;
    if !value.is_object() {
        bail!("{what} {} must be a JSON object", path.display());
    }
    Ok(value.to_string())
}

fn test(args: &TestArgs) -> anyhow::Result<ExitCode> {
    let request = read_json_object(&args.input, "request")?;
    let response = args
        .response
        .as_deref()
        .map(|p| read_json_object(p, "response"))
        .transpose()?;
    let artifacts = args
        .artifacts
        .as_deref()
        .map(|p| read_json_object(p, "artifact descriptor"))
        .transpose()?;
    let limits = args.limits.limits();
    let sandbox = Sandbox::new(EngineOptions {
        fuel: limits.fuel.is_some(),
        ..EngineOptions::default()
    })?;
    let auditor = load_auditor(&sandbox, &args.file, &limits)?;
    let vocabulary = &auditor.vocabulary;
    if !vocabulary.observes(args.phase) {
        let phases: Vec<&str> = vocabulary.phases.iter().map(|p| p.as_str()).collect();
        bail!(
            "auditor '{}' does not observe the {} phase (it observes: {})",
            vocabulary.id,
            args.phase,
            phases.join(", ")
        );
    }
    let mut settings = vocabulary.default_settings();
    for assignment in &args.settings {
        let (name, value) = vocabulary
            .parse_assignment(assignment)
            .map_err(anyhow::Error::msg)?;
        settings.0.insert(name, value);
    }
    let input = ObservationInput {
        phase: args.phase,
        request_id: args.request_id.clone(),
        org: args.org.clone(),
        workspace: args.workspace.clone(),
        agent: args.agent.clone(),
        request,
        response,
        artifacts,
    };
    let observed = auditor
        .observe(&sandbox, &input, &settings, &limits)
        .with_context(|| format!("auditor '{}' failed", vocabulary.id))?;
    let out = json!({
        "auditor": vocabulary.id,
        "sha256": auditor.sha256,
        "claims": observed.claims,
        "duration_us": observed.duration.as_micros() as u64,
    });
    emit(&serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}

fn sign(file: &Path, key: &Path) -> anyhow::Result<ExitCode> {
    let bytes = read_file(file, "auditor")?;
    let key = signing::read_secret_key(key)?;
    let doc = signing::sign_digest(&key, &crate::plugin::sha256_hex(&bytes))?;
    let mut sig_path = file.as_os_str().to_owned();
    sig_path.push(".sig");
    let sig_path = PathBuf::from(sig_path);
    std::fs::write(&sig_path, serde_json::to_string_pretty(&doc)? + "\n")
        .with_context(|| format!("cannot write {}", sig_path.display()))?;
    emit(&json!({"file": file.display().to_string(), "signature": sig_path.display().to_string(), "sha256": doc.sha256, "key_id": doc.key_id}).to_string());
    Ok(ExitCode::SUCCESS)
}

fn verify(file: &Path, trusted: &Path) -> anyhow::Result<ExitCode> {
    let bytes = read_file(file, "auditor")?;
    let keys = TrustedKeys::load_dir(trusted)?;
    let mut sig_path = file.as_os_str().to_owned();
    sig_path.push(".sig");
    let sig_path = PathBuf::from(sig_path);
    let sig = match std::fs::read(&sig_path) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", sig_path.display())),
    };
    let sha256 = crate::plugin::sha256_hex(&bytes);
    let key_id = keys
        .verify(&sig_path.display().to_string(), sig.as_deref(), &sha256)
        .with_context(|| format!("{}: signature rejected", file.display()))?;
    emit(&json!({"file": file.display().to_string(), "valid": true, "sha256": sha256, "key_id": key_id}).to_string());
    Ok(ExitCode::SUCCESS)
}

/// Print the listing of a plugin set, one line per file.
pub fn print_listing(set: &PluginSet) {
    let loaded = set.plugins.len();
    let refused = set.entries.len() - loaded;
    let mut out = format!(
        "plugin set {} ({loaded} loaded, {refused} refused)\n",
        set.hash
    );
    for e in &set.entries {
        match e.status {
            EntryStatus::Loaded => {
                let note = e
                    .reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default();
                out += &format!(
                    "  loaded  {} {} {} sha256:{}{note}\n",
                    e.file,
                    e.id.as_deref().unwrap_or("?"),
                    e.version.as_deref().unwrap_or("?"),
                    e.sha256.as_deref().unwrap_or("?"),
                );
            }
            EntryStatus::Refused => {
                out += &format!(
                    "  refused {}: {}\n",
                    e.file,
                    e.reason.as_deref().unwrap_or("unknown reason")
                )
            }
        }
    }
    emit(out.trim_end());
}

/// Print one line (or block) to stdout; a closed stdout (`| head`) is not an error.
fn emit(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
}

fn serve(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let (config, config_hash) = match &args.config {
        Some(path) => {
            let (config, hash) = crate::config::Config::load_with_hash(path)?;
            (config, Some(hash))
        }
        None => (crate::config::Config::default(), None),
    };
    crate::gateway::check_config(&config).map_err(anyhow::Error::msg)?;
    let trusted_keys = match (&args.trusted_keys, args.require_signed) {
        (Some(dir), true) => Some(std::sync::Arc::new(TrustedKeys::load_dir(dir)?)),
        (Some(_), false) => bail!("--trusted-keys is only used with --require-signed"),
        _ => None,
    };
    let bundle_path = PathBuf::from("policies/bundles").join(format!("{}.toml", args.preset));
    let bundle = if args.policies.is_none() && bundle_path.is_file() {
        Some(lucid_policy::Bundle::load(&bundle_path)?)
    } else {
        None
    };
    let policies_dir = args.policies.clone().unwrap_or_else(|| {
        PathBuf::from("policies/presets").join(bundle.as_ref().map_or(&args.preset, |b| &b.preset))
    });
    if !policies_dir.is_dir() {
        bail!(
            "no policy directory {} (pass --policies DIR, or --preset starter|balanced|strict from the repository root)",
            policies_dir.display()
        );
    }
    let upstream_url = args
        .upstream
        .clone()
        .or_else(|| config.upstream.url.clone())
        .unwrap_or_else(|| {
            tracing::warn!("no upstream configured: using the built-in mock model");
            "mock".to_string()
        });
    let upstream_key = match &config.upstream.api_key_env {
        Some(var) => Some(
            std::env::var(var)
                .with_context(|| format!("upstream.api_key_env names {var}, which is not set"))?,
        ),
        None => None,
    };
    let upstream = crate::gateway::upstream::Upstream::new(
        &upstream_url,
        upstream_key,
        std::time::Duration::from_millis(config.upstream.timeout_ms),
        std::time::Duration::from_millis(config.upstream.connect_timeout_ms),
    )
    .map_err(anyhow::Error::msg)?;
    if config.keys.is_empty() {
        tracing::warn!(
            "DEV MODE: no [[keys]] configured; any client is accepted and picks its scope with x-lucid-org/x-lucid-workspace/x-lucid-agent headers"
        );
    }

    let sandbox = std::sync::Arc::new(Sandbox::new(EngineOptions {
        pooling: true,
        fuel: config_uses_fuel(&config),
        ..EngineOptions::default()
    })?);
    let cache_dir = args.store.data_dir.join("cache");
    let cache = CompileCache::new(&cache_dir, &sandbox)
        .with_context(|| format!("cannot create compile cache {}", cache_dir.display()))?;
    let admission = Admission {
        max_file_bytes: args.max_plugin_mib << 20,
        trusted_keys,
        ..Admission::default()
    };
    let loader = PluginLoader::new(sandbox.clone(), Some(cache), admission);
    let host = std::sync::Arc::new(PluginHost::open(&args.plugins, loader)?);
    let set = host.current();
    // Configuration errors for the auditors loaded at start are fatal: fix the file and restart.
    for plugin in &set.plugins {
        config.policy_for(&plugin.auditor.vocabulary)?;
    }
    print_listing(&set);
    let policy = std::sync::Arc::new(crate::policy::PolicyRuntime::load(&policies_dir, &set)?);

    let signer = crate::receipt::Signer::load_file(sandbox.engine(), &args.receipt.path()?)?;
    let writer = open_store(&args.store)?;
    let reader = open_store(&args.store)?;
    let receipts = std::sync::Arc::new(crate::receipts::Receipts::start(signer, writer)?);
    if let crate::receipts::ChainStart::Splice {
        previous_ar_hash,
        previous_depth,
    } = receipts.chain_start()
    {
        tracing::info!(%previous_ar_hash, previous_depth, "receipt chain continues with a splice");
    }

    let overrides = crate::scopes::Overrides::with_default(
        lucid_policy::ScopeSettings {
            orgs: config.orgs.clone(),
        },
        bundle.map(|b| b.enforcement).unwrap_or_default(),
    );
    let runner = crate::runtime::PhaseRunner::new(sandbox.clone());
    let auditing = crate::runtime::Auditing::new(host.clone(), config.clone(), config_hash, runner);
    if let Err(errors) = overrides.check(&auditing.view()) {
        let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        bail!("invalid scope settings in the config: {}", lines.join(" "));
    }
    let gateway = std::sync::Arc::new(crate::gateway::Gateway {
        auditing: auditing.clone(),
        policy: policy.clone(),
        receipts: receipts.clone(),
        evidence: std::sync::Arc::new(std::sync::Mutex::new(reader)),
        upstream,
        config,
        metrics: crate::gateway::metrics::Metrics::new(),
        overrides,
    });

    let watched = gateway.clone();
    let _plugin_watch = crate::reload::watch(host.clone(), move |set| {
        let view = watched.auditing.install(set.clone());
        watched.metrics.plugin_reloads.inc();
        for (id, policy) in view.policies.iter() {
            if let Err(e) = policy {
                tracing::error!(auditor = %id, "auditor will fail closed: {e}");
            }
        }
        // The schema follows the plugins: re-validate the policies against it.
        watched.policy.reload(set);
        print_listing(set);
    })
    .with_context(|| format!("cannot watch {}", args.plugins.display()))?;
    let _policy_watch = watch_policies(&policies_dir, host.clone(), policy.clone())?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("lucid-http")
        .build()?;
    let grace = std::time::Duration::from_secs(args.grace_secs);
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        emit(&format!("lucid listening on http://{addr}"));
        crate::gateway::serve(gateway.clone(), listener, shutdown_signal(), grace).await?;
        anyhow::Ok(())
    })?;
    // Everything acknowledged is already durable; wait for anything still queued.
    receipts.shutdown();
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Reload the policies when a file of their directory changes.
fn watch_policies(
    dir: &Path,
    host: std::sync::Arc<PluginHost>,
    policy: std::sync::Arc<crate::policy::PolicyRuntime>,
) -> anyhow::Result<notify::RecommendedWatcher> {
    use notify::Watcher;
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            let _ = tx.send(());
        }
    })?;
    watcher.watch(dir, notify::RecursiveMode::NonRecursive)?;
    std::thread::Builder::new()
        .name("lucid-policy-watch".into())
        .spawn(move || {
            while rx.recv().is_ok() {
                std::thread::sleep(std::time::Duration::from_millis(40));
                while rx.try_recv().is_ok() {}
                if policy.reload(&host.current()) {
                    tracing::info!(hash = %policy.current().hash, "policy set reloaded");
                }
            }
        })?;
    Ok(watcher)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
        match term {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn config_uses_fuel(config: &crate::config::Config) -> bool {
    config.defaults.fuel.is_some() || config.auditors.values().any(|a| a.fuel.is_some())
}

fn open_store(args: &StoreArgs) -> anyhow::Result<Box<dyn crate::evidence::EvidenceStore>> {
    Ok(crate::evidence::open(
        args.store.as_deref(),
        &args.data_dir,
        &args.replica,
    )?)
}

/// Read the ARs a chain command works on, in stored order.
fn read_chain(source: &ChainSource, from: Option<&str>) -> anyhow::Result<Vec<serde_json::Value>> {
    if let Some(file) = &source.file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let mut ars = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(line)
                .with_context(|| format!("{} line {}: not JSON", file.display(), i + 1))?;
            ars.push(v);
        }
        if let Some(from) = from {
            let end = ars
                .iter()
                .position(|a| a.get("ar_hash").and_then(|h| h.as_str()) == Some(from))
                .with_context(|| format!("no AR {from} in {}", file.display()))?;
            ars.truncate(end + 1);
        }
        return Ok(ars);
    }
    let mut store: Box<dyn crate::evidence::EvidenceStore> = match &source.db {
        Some(db) => {
            if !db.is_file() {
                bail!("no evidence database at {}", db.display());
            }
            Box::new(crate::evidence::SqliteStore::open(db)?)
        }
        None => open_store(&source.store)?,
    };
    match from {
        Some(hash) => crate::evidence::chain_ending_at(store.as_mut(), hash, usize::MAX)?
            .with_context(|| format!("no AR {hash} in {}", store.location())),
        None => store
            .all()?
            .iter()
            .map(|text| crate::evidence::parse("?", text).map_err(anyhow::Error::from))
            .collect(),
    }
}

fn chain_verify(from: Option<&str>, source: &ChainSource) -> anyhow::Result<ExitCode> {
    let ars = read_chain(source, from)?;
    let report = crate::evidence::verify_stored(&ars);
    emit(&serde_json::to_string_pretty(&report)?);
    Ok(if report.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn chain_export(source: &ChainSource) -> anyhow::Result<ExitCode> {
    let ars = read_chain(source, None)?;
    let mut out = String::new();
    for ar in ars {
        out += &ar.to_string();
        out.push('\n');
    }
    emit(out.trim_end());
    Ok(ExitCode::SUCCESS)
}

fn chain_demo(
    count: u64,
    writers: u64,
    store: &StoreArgs,
    receipt: &ReceiptArgs,
) -> anyhow::Result<ExitCode> {
    let sandbox = Sandbox::new(EngineOptions::default())?;
    let signer = crate::receipt::Signer::load_file(sandbox.engine(), &receipt.path()?)?;
    let receipts = crate::receipts::Receipts::start(signer, open_store(store)?)?;
    let writers = writers.max(1);
    let failed = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|scope| {
        for w in 0..writers {
            let (receipts, failed) = (&receipts, &failed);
            scope.spawn(move || {
                let mut k = w;
                while k < count {
                    match receipts.issue_blocking(&demo_core(k)) {
                        Ok(issued) => emit(&issued.ar_hash),
                        Err(e) => {
                            eprintln!("error: {e}");
                            failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    k += writers;
                }
            });
        }
    });
    receipts.shutdown();
    Ok(if failed.into_inner() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A synthetic but well-formed evidence core.
fn demo_core(k: u64) -> serde_json::Value {
    use crate::ar::{Effect, Measurements, PhaseDecision, PhaseEvidence, Scope};
    use crate::claim::{Claim, ClaimValue};
    let claim = |name: &str, value| crate::runtime::AttributedClaim {
        auditor: "demo".into(),
        auditor_sha256: "0".repeat(64),
        claim: Claim {
            name: name.into(),
            value,
            confidence: 0.9,
            metadata: None,
        },
    };
    let phases = [PhaseEvidence {
        phase: Phase::Request,
        claims: vec![
            claim(
                "demo_score",
                ClaimValue::ScoreNormalized((k % 100) as f64 / 100.0),
            ),
            claim("demo_flag", ClaimValue::Boolean(k.is_multiple_of(2))),
        ],
        decision: PhaseDecision {
            effect: Effect::Allow,
            reasons: vec!["demo".into()],
            errors: vec![],
        },
    }];
    let measurements = Measurements {
        auditors: [("demo".to_string(), "0".repeat(64))].into(),
        plugin_set_hash: "0".repeat(64),
    };
    crate::ar::core(
        &format!("demo-{k}"),
        std::time::SystemTime::now(),
        &Scope {
            org: "demo".into(),
            workspace: "demo".into(),
            agent: "demo".into(),
        },
        &phases,
        &"0".repeat(64),
        &measurements,
        serde_json::Map::new(),
    )
}

/// The vocabularies of the auditors a plugin directory loads.
fn plugin_vocabularies(dir: &Path) -> anyhow::Result<Vec<lucid_policy::AuditorVocabulary>> {
    let sandbox = std::sync::Arc::new(Sandbox::new(EngineOptions::default())?);
    let set = PluginLoader::new(sandbox, None, Admission::default()).scan(dir, None)?;
    set.log_refusals(None);
    Ok(crate::policy::vocabularies(&set))
}

/// Serve a simple router until SIGINT/SIGTERM, printing `lucid listening on http://ADDR`.
fn serve_router(listen: &str, router: axum::Router) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        emit(&format!(
            "lucid listening on http://{}",
            listener.local_addr()?
        ));
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
