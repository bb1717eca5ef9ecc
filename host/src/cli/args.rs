//! The command line's arguments (clap), apart from what the commands do.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use lucid::runtime::claim::Phase;
use lucid::runtime::sandbox::Limits;

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
    /// AMD SEV-SNP attestation: verify a gateway's attestation report.
    #[command(subcommand)]
    Attest(AttestCommand),
    /// The AI Passport of one exchange: what was decided, why, by which measured auditors and
    /// policy, and whether its receipt, its chain and the attestation behind them verify.
    #[command(subcommand)]
    Passport(PassportCommand),
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
pub enum AttestCommand {
    /// Verify an SEV-SNP attestation report: the VCEK chains to AMD's root (ARK self-signed,
    /// ASK signed by the ARK, VCEK by the ASK), the VCEK signs the report, the VCEK's TCB and hwID
    /// extensions match the report's reported_tcb and chip_id, and report_data is
    /// binding_hash ‖ nonce (binding_hash = SHA-256 of the binding's RFC 8785 canonical JSON).
    ///
    /// Prints a JSON verdict {"ok", "mode": "hardware"|"mock", "checks": [{name, ok, detail}],
    /// "warnings", "report": {...}} and exits non-zero unless every check passes. A mock report
    /// (signed by a chain Lucid generated itself, `--attestation mock`) fails unless --allow-mock,
    /// and even then proves nothing about the hardware.
    ///
    /// Examples:
    ///   lucid attest verify --url https://gateway.example --product genoa
    ///   lucid attest verify --report attestation.json --binding binding.json --nonce HEX --product milan
    ///   lucid attest verify --report report.bin --vcek vcek.der --product milan
    #[command(verbatim_doc_comment)]
    Verify(AttestVerifyArgs),
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["report", "url"]))]
pub struct AttestVerifyArgs {
    /// The report: raw report bytes (0x4A0), or the JSON a gateway serves at GET /v1/attestation
    /// ({mode, report (base64), binding, binding_hash, certificates {vcek, ask, ark}}).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// A gateway's base URL: fetch URL/v1/attestation?nonce=… with a fresh random nonce (or
    /// --nonce) and verify that the report carries it.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Sent as `Authorization: Bearer KEY` with --url, if the gateway requires a key.
    #[arg(
        long,
        value_name = "KEY",
        env = "LUCID_API_KEY",
        hide_env_values = true,
        requires = "url"
    )]
    pub api_key: Option<String>,
    /// The VCEK certificate (DER or PEM), e.g. from AMD's KDS; default: the one in the JSON.
    #[arg(long, value_name = "FILE")]
    pub vcek: Option<PathBuf>,
    /// Trust AMD's ARK/ASK of this product (built in): milan, genoa or turin.
    #[arg(long, value_name = "PRODUCT", conflicts_with_all = ["ark", "ask"])]
    pub product: Option<lucid_attest::Product>,
    /// The ARK certificate (DER or PEM) instead of --product; default: the one in the JSON. An
    /// ARK that is not AMD's makes the report a mock one.
    #[arg(long, value_name = "FILE", requires = "ask")]
    pub ark: Option<PathBuf>,
    /// The ASK certificate (DER or PEM), with --ark.
    #[arg(long, value_name = "FILE", requires = "ark")]
    pub ask: Option<PathBuf>,
    /// The binding JSON the report must commit to (its SHA-256 over RFC 8785 canonical JSON is
    /// the first half of report_data); default: the binding in the JSON, if any.
    #[arg(long, value_name = "JSON_FILE")]
    pub binding: Option<PathBuf>,
    /// The nonce (64 hex characters) expected in the second half of report_data; with --url it is
    /// sent to the gateway (default: a fresh random one). Zeros are expected when a binding is
    /// checked without a nonce.
    #[arg(long, value_name = "HEX")]
    pub nonce: Option<String>,
    /// Accept a mock report (a chain whose ARK is not AMD's); the verdict then says "mock".
    #[arg(long)]
    pub allow_mock: bool,
    /// The launch measurement (96 hex characters) the guest image must have — what makes a
    /// genuine report mean "this binary in this image", not just "some SEV-SNP guest". Without
    /// it the verdict warns that the measurement was not checked.
    #[arg(long, value_name = "HEX")]
    pub measurement: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum PassportCommand {
    /// Show the AI Passport of one exchange, named by its receipt's ar_hash (the
    /// `x-lucid-ar-hash` header of the answer).
    ///
    /// A passport gathers, for one exchange, everything a person needs to trust (or not) what
    /// the gateway did with it:
    ///   - the decision (allow or deny) and the policy's reasons, phase by phase;
    ///   - the claims each auditor made about the request and the answer;
    ///   - the receipt's signature, and its place in the hash chain (which must verify from the
    ///     chain's first receipt up to this one);
    ///   - the content binding: salted commitments to the exact request and response bytes;
    ///   - the attestation: the SEV-SNP report kept for the receipt's binding (signer key,
    ///     auditors, policy, config, host binary), and whether it chains to AMD's root. A mock
    ///     report (`lucid serve --attestation mock`) is labelled MOCK: it proves nothing about
    ///     the hardware;
    ///   - the measurements: the SHA-256 of every auditor, the plugin set, policy, config,
    ///     host binary and settings that judged the exchange.
    ///
    /// Reads from a running gateway (--url; its admin API) or from the evidence store directly
    /// (--data-dir, --db or --store; attestation reports from <data-dir>/attestation/reports).
    /// Prints a summary to read (or one JSON object with --json). Exits 0 when the receipt, its
    /// chain and (when a report is kept) the attestation verify, whatever the decision was;
    /// non-zero otherwise, and when the receipt is not found.
    ///
    /// Examples:
    ///   lucid passport show 3f1c…e9 --url http://127.0.0.1:8080
    ///   lucid passport show 3f1c…e9 --url https://gateway.example --admin-token "$TOKEN" --json
    ///   lucid passport show 3f1c…e9 --data-dir .lucid
    #[command(verbatim_doc_comment)]
    Show(PassportShowArgs),
}

#[derive(Debug, Args)]
pub struct PassportShowArgs {
    /// The receipt's ar_hash (64 hex characters).
    #[arg(value_name = "AR_HASH")]
    pub ar_hash: String,
    /// A running gateway's base URL: read the receipt, its chain and the attestation report
    /// from its API (GET /v1/evidence/H, /v1/attestation-chain/H, /v1/attestation).
    #[arg(long, value_name = "URL", conflicts_with_all = ["db", "store"])]
    pub url: Option<String>,
    /// Sent as `Authorization: Bearer TOKEN` with --url, when the gateway has an admin token.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "LUCID_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// A SQLite evidence database (instead of <data-dir>/evidence.db).
    #[arg(long, value_name = "PATH", conflicts_with = "store")]
    pub db: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
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
    ///
    /// PostgreSQL URL options: `sslmode=disable|prefer|require|verify-ca|verify-full` (default
    /// `disable`; `prefer` and `require` encrypt without checking the server's certificate unless
    /// `sslrootcert` is given), `sslrootcert=PATH` (PEM roots; default the built-in Mozilla
    /// roots), `connect_timeout=SECONDS` (default 10: TCP, TLS and authentication),
    /// `statement_timeout=SECONDS` (default 30). A gateway holds a lease on its `--replica` while
    /// connected: a second one with the same name is refused.
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
    /// Load only signed plugins: those with a valid FILE.wasm.sig from a key in --trusted-keys,
    /// or published (`lucid auditor publish`) in the --registry by one of its keys. Anything
    /// else is refused, and listed with the reason at GET /v1/auditors.
    #[arg(long)]
    pub require_signed: bool,
    /// Directory of trusted publisher keys (*.pub); with --require-signed.
    #[arg(long, value_name = "DIR")]
    pub trusted_keys: Option<PathBuf>,
    /// A registry directory written by `lucid auditor publish` (keys/*.pub and
    /// auditors/<sha256>.json, read at every plugin load); with --require-signed.
    #[arg(long, value_name = "DIR")]
    pub registry: Option<PathBuf>,
    /// Largest plugin file accepted, in MiB.
    #[arg(long, default_value_t = 32)]
    pub max_plugin_mib: u64,
    /// Allow [[keys]] without gateway.admin_token_sha256: every key holder can then use the
    /// admin API (read all evidence, change detection settings). For local experiments only.
    #[arg(long)]
    pub insecure_admin: bool,
    /// The secret that authenticates the compile cache (native code run by this process), kept
    /// outside the data dir; created (mode 0600) if missing. Default
    /// `$XDG_STATE_HOME/lucid/cache.key`, else `~/.local/state/lucid/cache.key`. Unused under
    /// --require-signed, where plugins are always compiled from their signed bytes.
    #[arg(long, value_name = "FILE")]
    pub cache_key: Option<PathBuf>,
    /// Time in-flight requests get to finish after SIGTERM, in seconds.
    #[arg(long, default_value_t = 30)]
    pub grace_secs: u64,
    /// Where attestation reports come from: `sev-snp` (the AMD secure processor through
    /// /dev/sev-guest; an error when it does not exist), `mock` (a locally generated chain kept
    /// in the data dir, labelled mock everywhere; proves nothing about the hardware), or `auto`
    /// (sev-snp when /dev/sev-guest exists, else mock). Served at GET /v1/attestation.
    #[arg(long, value_name = "MODE", default_value = "auto", value_parser = ["auto", "sev-snp", "mock"])]
    pub attestation: String,
}

#[derive(Debug, Subcommand)]
pub enum AuditorCommand {
    /// Start a new auditor project in directory NAME: a working example auditor (one request
    /// claim and one setting), the SDK and the WIT contract, ready for `lucid auditor build NAME`.
    ///
    /// Languages and what building them needs (nothing is installed for you):
    ///   rust    cargo with the wasm32-wasip2 target (`rustup target add wasm32-wasip2`);
    ///           the project uses the Lucid Rust SDK from this source tree (or --sdk DIR)
    ///   python  componentize-py (`pip install componentize-py==0.25.1`)
    ///   js      Node.js and componentize-js (`npm install` in the project)
    ///
    /// Example:
    ///   lucid auditor init shout --lang python && lucid auditor build shout
    ///   cp shout/shout.wasm plugins/    # live within a second in a running gateway
    #[command(verbatim_doc_comment)]
    Init(super::scaffold::InitArgs),
    /// Build an auditor project (made by `lucid auditor init`, or any directory with a
    /// lucid-auditor.toml) into a component, DIR/NAME.wasm, with its language's toolchain, then
    /// load it once to check that the gateway would accept it. Says what is missing, and the
    /// one command that installs it, when a tool is not there.
    Build(super::scaffold::BuildArgs),
    /// Sign an auditor and record it in a registry directory that `lucid serve --require-signed
    /// --registry DIR` reads: DIR/auditors/<sha256>.json (id, version, contract, signature) and
    /// DIR/keys/<key_id>.pub. A new registry starts trusting KEY; an existing one must already
    /// trust it (or pass --trust-key).
    Publish {
        /// The auditor component.
        file: PathBuf,
        /// The publisher's secret key (from `lucid keygen`).
        #[arg(long, value_name = "KEY")]
        key: PathBuf,
        /// The registry directory (created if missing).
        #[arg(long, value_name = "DIR")]
        registry: PathBuf,
        /// Add KEY's public key to the registry's trusted keys if it is not there yet.
        #[arg(long)]
        trust_key: bool,
    },
    /// Print an auditor's SHA-256 (of the exact file bytes) and its vocabulary as JSON.
    Inspect {
        /// The auditor component.
        file: PathBuf,
    },
    /// Run an auditor in the sandbox: once over a chat request (and response), printing its
    /// claims as JSON; or, with --contract, over a built-in set of exchanges, checking its
    /// contract.
    ///
    /// One run (--phase and --input): prints {"auditor", "sha256", "claims", "duration_us"}.
    ///
    /// Contract testing (--contract; no --phase or --input): the auditor is called, with its
    /// default settings (and any --set), over built-in exchanges covering every phase it
    /// observes:
    ///   - artifact: the artifact descriptor the gateway builds (plugin set, policy, config and
    ///     binary hashes), with several auditors, and with the optional hashes missing;
    ///   - request: plain and full requests, no messages, empty and 256 KiB messages, unicode
    ///     (RTL, emoji, combining marks, zero-width and bidi controls), array-of-parts content,
    ///     a long conversation, tool calls and results in the history, x-lucid-* context;
    ///   - execution: tools declared, tool calls in the response, parallel and legacy
    ///     function calls, a multi-turn agent loop repeating the same call, 256 KiB arguments;
    ///   - response: plain, empty, missing and multiple choices, array-of-parts, unicode and
    ///     256 KiB answers.
    ///
    /// Then over every DIR/*.json case of --inputs, one exchange per file:
    ///
    ///   {"name": "refund-card",          (optional; default: the file name)
    ///    "phase": "request",             (artifact | request | execution | response)
    ///    "request": {...},               (chat request; required except in the artifact phase)
    ///    "response": {...},              (chat response; required in execution and response)
    ///    "artifacts": {...},             (artifact descriptor, or {"headers": {...}} context)
    ///    "settings": {"max_tokens": 10}} (overrides, typed as the vocabulary declares them)
    ///
    /// First the component is loaded twice: describe must return the same vocabulary.
    ///
    /// A case fails when the call fails, traps, runs out of memory or time (--deadline-ms), or
    /// returns a claim that is undeclared, of the wrong type, declared for another phase,
    /// emitted twice, with a score or confidence outside 0..1, or over the claims-size cap — the
    /// checks the gateway makes on every call. Cases for phases the auditor does not observe are
    /// skipped. Prints one line per case (or one JSON object with --json) and
    /// `contract: N passed, M failed, K skipped`; exits non-zero when a case failed.
    ///
    /// Examples:
    ///   lucid auditor test plugins/pii.wasm --phase request --input req.json
    ///   lucid auditor test plugins/pii.wasm --contract
    ///   lucid auditor test plugins/pii.wasm --contract --inputs cases/ --json
    #[command(verbatim_doc_comment)]
    Test(Box<TestArgs>),
    /// Score an auditor on labelled examples (JSON Lines, see bench/quality/README.md):
    /// precision, recall and F1 per label, per source and per split, and its cost per call.
    ///
    /// Example: `lucid auditor eval plugins/pii.wasm --data pii.jsonl --predict pii_entities`;
    /// `--predict injection_detected=injection` turns a boolean claim into a label.
    Eval(Box<super::eval::EvalArgs>),
    /// Sign an auditor: write FILE.wasm.sig, an Ed25519 signature over the file's SHA-256.
    Sign {
        /// The auditor component.
        file: PathBuf,
        /// The secret key (from `lucid keygen`).
        #[arg(long, value_name = "KEY")]
        key: PathBuf,
    },
    /// Verify an auditor as `serve --require-signed` would: its FILE.wasm.sig against a
    /// directory of trusted public keys, or its record in a registry. Exits non-zero when
    /// neither verifies (for CI).
    Verify {
        /// The auditor component.
        file: PathBuf,
        /// Directory of trusted publisher keys (*.pub).
        #[arg(long, value_name = "DIR", required_unless_present = "registry")]
        trusted_keys: Option<PathBuf>,
        /// A registry directory (`lucid auditor publish --registry`).
        #[arg(long, value_name = "DIR")]
        registry: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// The auditor component.
    pub file: PathBuf,
    /// The phase to observe (required without --contract).
    #[arg(long, value_parser = parse_phase, required_unless_present = "contract", conflicts_with = "contract")]
    pub phase: Option<Phase>,
    /// An OpenAI chat-completions request body (JSON file; required without --contract).
    #[arg(
        long,
        value_name = "REQUEST.json",
        required_unless_present = "contract",
        conflicts_with = "contract"
    )]
    pub input: Option<PathBuf>,
    /// An OpenAI chat-completions response body (JSON file), for the response and execution
    /// phases.
    #[arg(long, value_name = "RESPONSE.json", conflicts_with = "contract")]
    pub response: Option<PathBuf>,
    /// An artifact descriptor (JSON file), for the artifact phase.
    #[arg(long, value_name = "ARTIFACTS.json", conflicts_with = "contract")]
    pub artifacts: Option<PathBuf>,
    /// Set an auditor setting, `name=value` (repeatable). Values are checked against the
    /// declared type; string lists are comma-separated or a JSON array. With --contract, every
    /// case runs with these (a case's own settings win).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub settings: Vec<String>,
    /// Contract testing: run the built-in exchanges of every phase (and --inputs) and fail if
    /// a call fails or a claim breaks the vocabulary (see above). `--claims` is the same.
    #[arg(long, visible_alias = "claims")]
    pub contract: bool,
    /// With --contract: also run every DIR/*.json case (format above).
    #[arg(long, value_name = "DIR", requires = "contract")]
    pub inputs: Option<PathBuf>,
    /// With --contract: print one JSON object (every case and the totals) instead of lines.
    #[arg(long, requires = "contract")]
    pub json: bool,
    /// Request id passed to the auditor (with --contract, followed by `-CASE`).
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
    /// Memory cap of the guest, in MiB (at most the engine's 256).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=lucid::runtime::sandbox::MAX_MEMORY_MIB))]
    pub memory_mib: u64,
    /// Instruction budget (fuel) of one call; unlimited when absent.
    #[arg(long)]
    pub fuel: Option<u64>,
}

impl LimitArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            deadline: Duration::from_millis(self.deadline_ms),
            memory_bytes: (self.memory_mib as usize) << 20,
            fuel: self.fuel,
            ..Limits::default()
        }
    }
}

fn parse_phase(s: &str) -> Result<Phase, String> {
    s.parse()
        .map_err(|e: lucid_contract::UnknownName| e.to_string())
}
