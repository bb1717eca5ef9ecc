//! What an exchange runs against: the [`RuntimeView`] (plugin set, run configurations, artifact
//! phase result) in force, built anew and swapped in whenever the plugin set changes.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::config::Config;
use crate::runtime::claim::Phase;
use crate::runtime::plugin::ObservationInput;
use crate::runtime::plugin_dir::PluginSet;
use crate::runtime::run_config::{self, RunConfig};
use crate::runtime::runner::{PhaseReport, PhaseRunner, RunOutcome};

/// The run configuration of each auditor of one plugin set. A configuration error for one auditor
/// makes it fail (closed, unless configured otherwise) at every call rather than run unchecked.
pub type RunConfigs = BTreeMap<String, Result<RunConfig, String>>;

pub fn run_configs(config: &Config, set: &PluginSet) -> RunConfigs {
    set.plugins
        .iter()
        .map(|p| {
            let id = p.auditor.id().to_string();
            (
                id,
                run_config::resolve(config, &p.auditor.vocabulary).map_err(|e| e.to_string()),
            )
        })
        .collect()
}

/// What judged an exchange, as its receipt records it (`measurements`): the auditors and the
/// plugin set by hash, the config file's hash, the running binary's hash and the hash of the
/// effective auditor settings of the exchange's scope.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Measurements {
    pub auditors: BTreeMap<String, String>,
    pub plugin_set_hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings_hash: Option<String>,
}

/// A plugin set, the run configuration of its auditors and the artifact-phase result for them:
/// everything one exchange needs, taken once at its start.
#[derive(Debug, Clone)]
pub struct RuntimeView {
    pub set: Arc<PluginSet>,
    pub run_configs: Arc<RunConfigs>,
    /// The artifact descriptor the artifact phase observed.
    pub artifacts: Value,
    /// The artifact phase's report; its claims are attached to every exchange's evidence.
    pub artifact: Option<Arc<PhaseReport>>,
}

impl RuntimeView {
    /// A view without running the artifact phase (for one-off runs and tests).
    pub fn new(set: Arc<PluginSet>, config: &Config) -> Self {
        let run_configs = Arc::new(run_configs(config, &set));
        RuntimeView {
            artifacts: artifact_descriptor(&set, None, None),
            set,
            run_configs,
            artifact: None,
        }
    }
}

/// The JSON the artifact phase observes: what is loaded, by hash.
pub fn artifact_descriptor(
    set: &PluginSet,
    policy_hash: Option<&str>,
    config_hash: Option<&str>,
) -> Value {
    json!({
        "plugin_set_hash": set.hash,
        "auditors": set.measurements(),
        "policy_hash": policy_hash,
        "config_hash": config_hash,
        "host_sha256": host_sha256(),
    })
}

/// The SHA-256 (hex) of the running binary, computed once (the first call is at start); `None`
/// when it cannot be read.
pub fn host_sha256() -> Option<&'static str> {
    static HASH: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        // The running image itself (on Linux even if its file was replaced since), not a path.
        #[cfg(target_os = "linux")]
        let image = std::fs::File::open("/proc/self/exe");
        #[cfg(not(target_os = "linux"))]
        let image = std::env::current_exe().and_then(std::fs::File::open);
        let hash = image.and_then(|mut file| {
            use sha2::Digest;
            use std::io::Read;
            let mut hasher = sha2::Sha256::new();
            let mut buffer = vec![0u8; 1 << 16];
            loop {
                match file.read(&mut buffer)? {
                    0 => break,
                    n => hasher.update(&buffer[..n]),
                }
            }
            Ok(hex::encode(hasher.finalize()))
        });
        match hash {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::error!("cannot measure the running binary: {e}");
                None
            }
        }
    })
    .as_deref()
}

/// The `config_hash` of the built-in defaults (no config file): the SHA-256 of no bytes.
pub fn default_config_hash() -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b""))
}

/// The auditing side of the host: the plugin directory, the configuration, the phase runner and
/// the view in force. A change of the plugin set builds a new view (running the artifact phase
/// over it) and swaps it in; exchanges keep the view they started with.
pub struct Auditing {
    plugins: Arc<crate::runtime::reload::PluginHost>,
    config: Config,
    config_hash: String,
    runner: PhaseRunner,
    view: std::sync::RwLock<Arc<RuntimeView>>,
    /// The policy hash the view in force was built with; also serializes view changes.
    policy_hash: std::sync::Mutex<Option<String>>,
}

impl Auditing {
    /// `config_hash`: the SHA-256 of the config file's bytes (`None`: no file, the built-in
    /// defaults, whose hash is that of no bytes). `policy_hash`: the policy set in force, which
    /// the artifact phase observes.
    pub fn new(
        plugins: Arc<crate::runtime::reload::PluginHost>,
        config: Config,
        config_hash: Option<String>,
        policy_hash: Option<String>,
        runner: PhaseRunner,
    ) -> Arc<Self> {
        let set = plugins.current();
        let config_hash = config_hash.unwrap_or_else(default_config_hash);
        let view = build_view(&runner, set, &config, &config_hash, policy_hash.as_deref());
        Arc::new(Auditing {
            plugins,
            config,
            config_hash,
            runner,
            view: std::sync::RwLock::new(Arc::new(view)),
            policy_hash: std::sync::Mutex::new(policy_hash),
        })
    }

    /// The SHA-256 of the config file in force (of no bytes for the built-in defaults).
    pub fn config_hash(&self) -> &str {
        &self.config_hash
    }

    /// What judges an exchange run against `view`, for its receipt.
    pub fn measurements(&self, view: &RuntimeView) -> Measurements {
        Measurements {
            auditors: view.set.measurements(),
            plugin_set_hash: view.set.hash.clone(),
            config_hash: Some(self.config_hash.clone()),
            host_sha256: host_sha256().map(str::to_owned),
            settings_hash: None,
        }
    }

    pub fn plugins(&self) -> &Arc<crate::runtime::reload::PluginHost> {
        &self.plugins
    }

    pub fn runner(&self) -> &PhaseRunner {
        &self.runner
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The view in force; keep it for the whole exchange.
    pub fn view(&self) -> Arc<RuntimeView> {
        self.view
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Take a new plugin set into use, judged by the policy set `policy_hash`: run
    /// configurations, artifact phase, swap.
    pub fn install(&self, set: Arc<PluginSet>, policy_hash: &str) -> Arc<RuntimeView> {
        self.install_with(set, || policy_hash.to_string())
    }

    /// Like [`Auditing::install`], reading the policy hash in force only once no other view
    /// change runs (a policy reload racing a plugin reload cannot leave the older hash
    /// observed).
    pub fn install_with(
        &self,
        set: Arc<PluginSet>,
        policy_hash: impl FnOnce() -> String,
    ) -> Arc<RuntimeView> {
        let mut in_force = self
            .policy_hash
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let policy_hash = policy_hash();
        self.swap(&mut in_force, set, &policy_hash)
    }

    fn swap(
        &self,
        in_force: &mut Option<String>,
        set: Arc<PluginSet>,
        policy_hash: &str,
    ) -> Arc<RuntimeView> {
        let view = Arc::new(build_view(
            &self.runner,
            set,
            &self.config,
            &self.config_hash,
            Some(policy_hash),
        ));
        *in_force = Some(policy_hash.to_string());
        *self
            .view
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = view.clone();
        view
    }

    /// The policy set changed to `policy_hash`: the artifact phase observes it, so it runs
    /// again over the plugin set in force (nothing happens when the hash is the same).
    pub fn policy_changed(&self, policy_hash: &str) {
        let mut in_force = self
            .policy_hash
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if in_force.as_deref() != Some(policy_hash) {
            let set = self.view().set.clone();
            self.swap(&mut in_force, set, policy_hash);
        }
    }

    /// Run one phase of an exchange against `view`.
    pub fn run(&self, view: &RuntimeView, input: &ObservationInput) -> PhaseReport {
        self.runner.run(view, input)
    }
}

fn build_view(
    runner: &PhaseRunner,
    set: Arc<PluginSet>,
    config: &Config,
    config_hash: &str,
    policy_hash: Option<&str>,
) -> RuntimeView {
    let mut view = RuntimeView::new(set, config);
    view.artifacts = artifact_descriptor(&view.set, policy_hash, Some(config_hash));
    let subscribed = view
        .set
        .plugins
        .iter()
        .any(|p| p.auditor.vocabulary.observes(Phase::Artifact));
    if subscribed {
        let input = ObservationInput {
            phase: Phase::Artifact,
            request_id: format!("artifact-{}", &view.set.hash[..16]),
            org: String::new(),
            workspace: String::new(),
            agent: String::new(),
            request: "{}".to_string(),
            response: None,
            artifacts: Some(view.artifacts.to_string()),
        };
        let report = runner.run(&view, &input);
        for run in &report.runs {
            if let RunOutcome::Failed { kind, message, .. } = &run.outcome {
                tracing::warn!(auditor = %run.auditor, %kind, "artifact phase failed: {message}");
            }
        }
        view.artifact = Some(Arc::new(report));
    }
    view
}
