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
    })
}

/// The auditing side of the host: the plugin directory, the configuration, the phase runner and
/// the view in force. A change of the plugin set builds a new view (running the artifact phase
/// over it) and swaps it in; exchanges keep the view they started with.
pub struct Auditing {
    plugins: Arc<crate::runtime::reload::PluginHost>,
    config: Config,
    config_hash: Option<String>,
    runner: PhaseRunner,
    view: std::sync::RwLock<Arc<RuntimeView>>,
}

impl Auditing {
    pub fn new(
        plugins: Arc<crate::runtime::reload::PluginHost>,
        config: Config,
        config_hash: Option<String>,
        runner: PhaseRunner,
    ) -> Arc<Self> {
        let set = plugins.current();
        let view = build_view(&runner, set, &config, config_hash.as_deref());
        Arc::new(Auditing {
            plugins,
            config,
            config_hash,
            runner,
            view: std::sync::RwLock::new(Arc::new(view)),
        })
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

    /// Take a new plugin set into use: run configurations, artifact phase, swap.
    pub fn install(&self, set: Arc<PluginSet>) -> Arc<RuntimeView> {
        let view = Arc::new(build_view(
            &self.runner,
            set,
            &self.config,
            self.config_hash.as_deref(),
        ));
        *self
            .view
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = view.clone();
        view
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
    config_hash: Option<&str>,
) -> RuntimeView {
    let mut view = RuntimeView::new(set, config);
    view.artifacts = artifact_descriptor(&view.set, None, config_hash);
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
