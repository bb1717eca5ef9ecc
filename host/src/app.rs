//! The wiring of a running gateway: from [`ServeOptions`] and the config to the plugin host, the
//! policy, the receipt service, the overrides, the exchange service, the HTTP gateway and the
//! plugin and policy watchers ([`build`]), and serving it until SIGINT/SIGTERM ([`serve`]).
//!
//! Owns: putting the rooms together. Nothing depends on it but the `lucid` binary, whose command
//! line (clap) turns its arguments into [`ServeOptions`].

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::attestation::{AttestationError, AttestationMode, Attestor};
use crate::config::{Config, ConfigError};
use crate::evidence::service::{ChainStart, ReceiptService, StartError};
use crate::evidence::signer::{ReceiptError, Signer};
use crate::evidence::{Access, EvidenceStore, StoreError};
use crate::exchange::ExchangeService;
use crate::gateway::Gateway;
use crate::policy::PolicyRuntime;
use crate::policy::overrides::Overrides;
use crate::runtime::cache::{CacheKey, CacheKeyError, CompileCache};
use crate::runtime::notary::{Registry, SigningError, TrustedKeys};
use crate::runtime::plugin_dir::{Admission, EntryStatus, PluginDirError, PluginLoader, PluginSet};
use crate::runtime::reload::{PluginHost, WatchGuard};
use crate::runtime::sandbox::{EngineOptions, Sandbox};
use crate::runtime::{Auditing, PhaseRunner};

/// What `lucid serve` is asked to run.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// `mock` or the base URL of an OpenAI-compatible API; `None`: the config's, else `mock`.
    pub upstream: Option<String>,
    pub plugins: PathBuf,
    /// A policy directory; `None`: the preset's (or bundle's) under `policies/`.
    pub policies: Option<PathBuf>,
    /// A shipped preset (`policies/presets/NAME`) or bundle (`policies/bundles/NAME.toml`).
    pub preset: String,
    pub config: Option<PathBuf>,
    /// `postgres://…` or `sqlite:PATH`; `None`: `<data_dir>/evidence.db`.
    pub store: Option<String>,
    pub data_dir: PathBuf,
    pub replica: String,
    /// The receipt signer component.
    pub receipt: PathBuf,
    /// Load only plugins signed by a key of this directory (or published in `registry`).
    pub trusted_keys: Option<PathBuf>,
    /// Load only plugins published in this registry (`lucid auditor publish`) by one of its
    /// keys, or signed by a key of `trusted_keys`.
    pub registry: Option<PathBuf>,
    pub max_plugin_bytes: u64,
    /// Serve the admin API without a token even when API keys are configured.
    pub insecure_admin: bool,
    /// The secret authenticating the compile cache; `None`: [`CacheKey::default_path`].
    pub cache_key: Option<PathBuf>,
    /// Where attestation reports come from.
    pub attestation: AttestationMode,
}

/// Why a gateway could not be built or served.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("invalid config: {0}")]
    Gateway(String),
    #[error(transparent)]
    TrustedKeys(#[from] SigningError),
    #[error("cannot open the registry's auditors directory {path}: {source}")]
    Registry {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Bundle(#[from] lucid_policy::PolicyError),
    #[error(
        "no policy directory {0} (pass --policies DIR, or --preset starter|balanced|strict from the repository root)"
    )]
    NoPolicies(PathBuf),
    #[error("upstream.api_key_env names {0}, which is not set")]
    UpstreamKey(String),
    #[error("{0}")]
    Upstream(String),
    #[error("cannot create the sandbox: {0}")]
    Sandbox(String),
    #[error("cannot create compile cache {path}: {source}")]
    Cache {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    CacheKey(#[from] CacheKeyError),
    #[error(transparent)]
    Plugins(#[from] PluginDirError),
    #[error(transparent)]
    Signer(#[from] ReceiptError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("attestation: {0}")]
    Attestation(#[from] AttestationError),
    #[error(transparent)]
    ReceiptService(#[from] StartError),
    #[error(
        "config section [auditors.{id}] names no loaded auditor (loaded: {loaded}); fix the id or remove the section"
    )]
    UnknownAuditor { id: String, loaded: String },
    #[error("invalid scope settings in the config: {0}")]
    Overrides(String),
    #[error("cannot watch {path}: {message}")]
    Watch { path: PathBuf, message: String },
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A gateway wired from its options and config, with its watchers running; not yet listening.
pub struct App {
    pub gateway: Arc<Gateway>,
    pub receipts: Arc<ReceiptService>,
    _plugin_watch: WatchGuard,
    _policy_watch: notify::RecommendedWatcher,
}

/// Print one line (or block) to stdout; a closed stdout (`| head`) is not an error.
pub fn emit(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
}

/// Build everything a gateway runs: configuration, plugin host, policy, receipt service,
/// overrides, the exchange service and the gateway state, and the plugin and policy watchers.
pub fn build(options: &ServeOptions) -> Result<App, AppError> {
    let (config, config_hash, config_text) = match &options.config {
        Some(path) => {
            let (config, hash, text) = Config::load_source(path)?;
            (config, Some(hash), Some(text))
        }
        None => (Config::default(), None, None),
    };
    crate::gateway::check_config(&config, options.insecure_admin).map_err(AppError::Gateway)?;
    let mut trusted_keys = match &options.trusted_keys {
        Some(dir) => Some(TrustedKeys::load_dir(dir)?),
        None => None,
    };
    let registry = match &options.registry {
        Some(root) => {
            let registry = Registry::new(root);
            let keys = registry.trusted_keys()?;
            trusted_keys = Some(match trusted_keys {
                Some(mine) => mine.merge(keys),
                None => keys,
            });
            let auditors = registry.auditors_dir();
            let dir = cap_std::fs::Dir::open_ambient_dir(&auditors, cap_std::ambient_authority())
                .map_err(|source| AppError::Registry {
                path: auditors.clone(),
                source,
            })?;
            Some(Arc::new(dir))
        }
        None => None,
    };
    let trusted_keys = trusted_keys.map(Arc::new);
    let bundle_path = PathBuf::from("policies/bundles").join(format!("{}.toml", options.preset));
    let bundle = if options.policies.is_none() && bundle_path.is_file() {
        Some(lucid_policy::Bundle::load(&bundle_path)?)
    } else {
        None
    };
    let mut config = config;
    if let Some(listed) = bundle.as_ref().and_then(|b| b.auditors.as_ref()) {
        config.bundle_auditors = Some(listed.iter().cloned().collect());
    }
    let policies_dir = options.policies.clone().unwrap_or_else(|| {
        PathBuf::from("policies/presets")
            .join(bundle.as_ref().map_or(&options.preset, |b| &b.preset))
    });
    if !policies_dir.is_dir() {
        return Err(AppError::NoPolicies(policies_dir));
    }
    let upstream_url = options
        .upstream
        .clone()
        .or_else(|| config.upstream.url.clone())
        .unwrap_or_else(|| {
            tracing::warn!("no upstream configured: using the built-in mock model");
            "mock".to_string()
        });
    let upstream_key = match &config.upstream.api_key_env {
        Some(var) => Some(std::env::var(var).map_err(|_| AppError::UpstreamKey(var.clone()))?),
        None => None,
    };
    let upstream = crate::exchange::upstream::from_url(
        &upstream_url,
        upstream_key,
        Duration::from_millis(config.upstream.timeout_ms),
        Duration::from_millis(config.upstream.connect_timeout_ms),
    )
    .map_err(AppError::Upstream)?;
    if config.keys.is_empty() {
        tracing::warn!(
            "DEV MODE: no [[keys]] configured; any client is accepted and picks its scope with x-lucid-org/x-lucid-workspace/x-lucid-agent headers"
        );
    }

    let sandbox = Arc::new(
        Sandbox::new(EngineOptions {
            pooling: true,
            fuel: config_uses_fuel(&config),
            ..EngineOptions::default()
        })
        .map_err(|e| AppError::Sandbox(format!("{e:#}")))?,
    );
    // The compile cache holds native code that runs in this process: anyone who can write the
    // data dir could run code past the sandbox and the signatures. Under --require-signed every
    // plugin is compiled from its signed bytes instead.
    let cache = if trusted_keys.is_some() {
        tracing::info!("--require-signed: the compile cache is not used");
        None
    } else {
        match cache_key(options)? {
            Some(secret) => {
                let cache_dir = options.data_dir.join("cache");
                Some(
                    CompileCache::new(&cache_dir, &sandbox, secret).map_err(|source| {
                        AppError::Cache {
                            path: cache_dir.clone(),
                            source,
                        }
                    })?,
                )
            }
            None => None,
        }
    };
    let admission = Admission {
        max_file_bytes: options.max_plugin_bytes,
        trusted_keys,
        registry,
        ..Admission::default()
    };
    let loader = PluginLoader::new(sandbox.clone(), cache, admission);
    let host = Arc::new(PluginHost::open(&options.plugins, loader)?);
    let set = host.current();
    // Configuration errors for the auditors loaded at start are fatal: fix the file and restart.
    for plugin in &set.plugins {
        crate::runtime::run_config::resolve(&config, &plugin.auditor.vocabulary)?;
    }
    // A section for an auditor that is not loaded is most likely a typo, which would silently
    // leave the defaults in force for the auditor it meant.
    let loaded: Vec<&str> = set.plugins.iter().map(|p| p.auditor.id()).collect();
    if let Some(unknown) = config
        .auditors
        .keys()
        .find(|id| !loaded.contains(&id.as_str()))
    {
        return Err(AppError::UnknownAuditor {
            id: unknown.clone(),
            loaded: loaded.join(", "),
        });
    }
    if let Some(listed) = &config.bundle_auditors {
        let missing: Vec<&str> = listed
            .iter()
            .map(String::as_str)
            .filter(|id| !loaded.contains(id))
            .collect();
        if !missing.is_empty() {
            tracing::warn!(
                "the bundle '{}' runs auditors that are not loaded: {} (a strict preset denies until they are)",
                options.preset,
                missing.join(", ")
            );
        }
    }
    print_listing(&set);
    let policy = Arc::new(PolicyRuntime::load(&policies_dir, &set));
    if let Some(problem) = policy.problem() {
        tracing::error!(
            "starting degraded, every exchange is denied until this is fixed: {problem}"
        );
    }

    let signer = Signer::load_file(sandbox.engine(), &options.receipt)?;
    // Only the writer takes the replica's lease (in a shared store); the reader serves the API.
    let writer = open_store(options, Access::Write)?;
    let reader = open_store(options, Access::Read)?;
    let receipts = Arc::new(ReceiptService::start(signer, writer)?);
    if let ChainStart::Splice {
        previous_ar_hash,
        previous_depth,
    } = receipts.chain_start()
    {
        tracing::info!(%previous_ar_hash, previous_depth, "receipt chain continues with a splice");
    }

    let overrides = Overrides::with_default(
        lucid_policy::ScopeSettings {
            orgs: config.orgs.clone(),
        },
        bundle.map(|b| b.enforcement).unwrap_or_default(),
    );
    let attestor = Arc::new(open_attestor(options, &config)?);
    let runner = PhaseRunner::new(sandbox.clone());
    let auditing = Auditing::new(
        host.clone(),
        config.clone(),
        config_hash,
        Some(policy.current().hash.clone()),
        runner,
    );
    if let Err(errors) = overrides.check(&auditing.view()) {
        let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        return Err(AppError::Overrides(lines.join(" ")));
    }
    let exchange = Arc::new(ExchangeService {
        auditing,
        policy: policy.clone(),
        overrides,
        receipts: receipts.clone(),
        upstream,
        streaming: config.streaming.clone(),
        redaction: config.redaction.clone(),
        metrics: crate::exchange::metrics::Metrics::new(),
        lifecycle: Default::default(),
        attestor: Some(attestor.clone()),
        feed: Default::default(),
    });
    let mut gateway = Gateway::new(exchange, Arc::new(Mutex::new(reader)), config)
        .with_attestor(attestor.clone());
    if let (Some(path), Some(text)) = (&options.config, config_text) {
        gateway = gateway.with_config_source(path.clone(), text);
    }
    let gateway = Arc::new(gateway);
    attest_bindings(&gateway, &attestor)?;

    let watched = gateway.clone();
    let plugin_watch = crate::runtime::reload::watch(host.clone(), move |set| {
        // The schema follows the plugins: re-validate the policies against the new set first,
        // so that no exchange ever runs the new set under a policy not validated for it.
        watched.exchange.policy.reload(set);
        let policy = watched.exchange.policy.clone();
        let view = watched
            .exchange
            .auditing
            .install_with(set.clone(), || policy.current().hash.clone());
        watched.exchange.metrics.plugin_reloads.inc();
        for (id, run_config) in view.run_configs.iter() {
            if let Err(e) = run_config {
                tracing::error!(auditor = %id, "auditor will fail closed: {e}");
            }
        }
        print_listing(set);
    })
    .map_err(|e| AppError::Watch {
        path: options.plugins.clone(),
        message: e.to_string(),
    })?;
    let policy_watch = watch_policies(
        &policies_dir,
        host,
        policy,
        gateway.exchange.auditing.clone(),
    )?;

    Ok(App {
        gateway,
        receipts,
        _plugin_watch: plugin_watch,
        _policy_watch: policy_watch,
    })
}

/// Serve `app` on `listen` until SIGINT/SIGTERM (printing `lucid listening on http://ADDR` once
/// the signal handlers are in place), give in-flight requests `grace` to finish, then wait for
/// queued receipts.
pub fn serve(app: App, listen: &str, grace: Duration) -> Result<(), AppError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("lucid-http")
        .build()?;
    runtime.block_on(async {
        let listener = bind(listen).await?;
        let shutdown = shutdown_signal()?;
        announce(listener.local_addr()?);
        crate::gateway::serve(app.gateway.clone(), listener, shutdown, grace).await?;
        Ok::<(), AppError>(())
    })?;
    // Everything acknowledged is already durable; wait for anything still queued.
    app.receipts.shutdown();
    tracing::info!("stopped");
    Ok(())
}

/// Serve a plain router until SIGINT/SIGTERM (`lucid mock-upstream`, `lucid bench-proxy`).
pub fn serve_router(listen: &str, router: axum::Router) -> Result<(), AppError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = bind(listen).await?;
        let shutdown = shutdown_signal()?;
        announce(listener.local_addr()?);
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await?;
        Ok(())
    })
}

async fn bind(listen: &str) -> Result<tokio::net::TcpListener, AppError> {
    tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| AppError::Listen {
            address: listen.to_string(),
            source,
        })
}

fn announce(addr: SocketAddr) {
    emit(&format!("lucid listening on http://{addr}"));
    emit(&format!("observer: http://{addr}/ui"));
}

/// A future that resolves on SIGINT or SIGTERM. The handlers are installed when this returns,
/// not when the future is first polled, so a signal sent right after the listening line is
/// printed is never lost to the default action.
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = int.recv() => {},
                _ = term.recv() => {},
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

/// The attestation provider `--attestation` asks for. A production gateway does not fall back to
/// the mock by itself: `auto` without `/dev/sev-guest` is an error there (ask for `mock`).
fn open_attestor(options: &ServeOptions, config: &Config) -> Result<Attestor, AppError> {
    if config.gateway.production
        && options.attestation == AttestationMode::Auto
        && !lucid_attest::sev_snp_available()
    {
        return Err(AppError::Gateway(
            "gateway.production is set but there is no /dev/sev-guest: pass --attestation mock to run with mock attestation knowingly, or run in an SEV-SNP guest".into(),
        ));
    }
    Ok(Attestor::open(options.attestation, &options.data_dir)?)
}

/// How often the binding in force is compared with the last one attested.
const ATTEST_EVERY: Duration = Duration::from_millis(500);

/// Attest the binding in force now (a failure stops the start), and keep attesting every new
/// one — a plugin set, a policy, a signing key (a recreated signer) — on a thread of its own,
/// so that every AR's `binding_hash` has a report.
fn attest_bindings(gateway: &Arc<Gateway>, attestor: &Arc<Attestor>) -> Result<(), AppError> {
    let first = attestor.for_binding(&gateway.exchange.binding())?;
    tracing::info!(
        binding_hash = %first.binding_hash,
        mode = %first.mode,
        "attestation report made for the binding in force"
    );
    let weak = Arc::downgrade(gateway);
    let attestor = attestor.clone();
    let mut last = first.binding_hash.clone();
    std::thread::Builder::new()
        .name("lucid-attest".into())
        .spawn(move || {
            loop {
                std::thread::sleep(ATTEST_EVERY);
                let Some(gateway) = weak.upgrade() else {
                    return;
                };
                let binding = gateway.exchange.binding();
                drop(gateway);
                let hash = lucid_ar::binding_hash(&binding);
                if hash == last {
                    continue;
                }
                match attestor.for_binding(&binding) {
                    Ok(_) => last = hash,
                    Err(e) => tracing::error!(binding_hash = %hash, "cannot attest the binding in force: {e}"),
                }
            }
        })?;
    Ok(())
}

/// Reload the policies when a file of their directory changes.
fn watch_policies(
    dir: &Path,
    host: Arc<PluginHost>,
    policy: Arc<PolicyRuntime>,
    auditing: Arc<Auditing>,
) -> Result<notify::RecommendedWatcher, AppError> {
    use notify::Watcher;
    let failed = |e: notify::Error| AppError::Watch {
        path: dir.to_path_buf(),
        message: e.to_string(),
    };
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            let _ = tx.send(());
        }
    })
    .map_err(failed)?;
    watcher
        .watch(dir, notify::RecursiveMode::NonRecursive)
        .map_err(failed)?;
    std::thread::Builder::new()
        .name("lucid-policy-watch".into())
        .spawn(move || {
            while rx.recv().is_ok() {
                std::thread::sleep(Duration::from_millis(40));
                while rx.try_recv().is_ok() {}
                if policy.reload(&host.current()) {
                    let hash = policy.current().hash.clone();
                    tracing::info!(%hash, "policy set reloaded");
                    // The artifact phase observes the policy's hash: run it again.
                    auditing.policy_changed(&hash);
                }
            }
        })?;
    Ok(watcher)
}

/// The compile cache's secret: `--cache-key` (any problem with it stops the start), else the
/// default location (a problem there only turns the cache off, with a warning).
fn cache_key(options: &ServeOptions) -> Result<Option<CacheKey>, AppError> {
    if let Some(path) = &options.cache_key {
        return Ok(Some(CacheKey::load_or_create(path, &options.data_dir)?));
    }
    let Some(path) = CacheKey::default_path() else {
        tracing::warn!(
            "neither $XDG_STATE_HOME nor $HOME is set and no --cache-key was given: the compile cache is not used"
        );
        return Ok(None);
    };
    match CacheKey::load_or_create(&path, &options.data_dir) {
        Ok(key) => Ok(Some(key)),
        Err(e) => {
            tracing::warn!("the compile cache is not used: {e}");
            Ok(None)
        }
    }
}

fn config_uses_fuel(config: &Config) -> bool {
    config.defaults.fuel.is_some() || config.auditors.values().any(|a| a.fuel.is_some())
}

fn open_store(
    options: &ServeOptions,
    access: Access,
) -> Result<Box<dyn EvidenceStore>, StoreError> {
    crate::evidence::open(
        options.store.as_deref(),
        &options.data_dir,
        &options.replica,
        access,
    )
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
