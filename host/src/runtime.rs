//! Running auditors over one phase of an exchange: every enabled auditor that observes the phase
//! runs concurrently (bounded by the number of cores), each in a fresh sandboxed instance. A failed
//! auditor yields a `lucid.auditor_error` claim and, unless it is configured `fail_open`, makes the
//! phase fail closed. Coverage says which auditors ran, failed or were skipped.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use crate::claim::{Claim, ClaimValue, Phase};
use crate::config::{AuditorPolicy, Config};
use crate::plugin::{ObservationInput, Observed};
use crate::plugin_dir::{LoadedPlugin, PluginSet};
use crate::sandbox::{ErrorKind, GuestError, Sandbox};

/// The claim the host emits when an auditor fails.
pub const AUDITOR_ERROR_CLAIM: &str = "lucid.auditor_error";

/// A claim together with the auditor (and its measurement) that made it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributedClaim {
    pub auditor: String,
    pub auditor_sha256: String,
    pub claim: Claim,
}

impl AttributedClaim {
    /// `{"auditor", "auditor_sha256", "name", "type", "value", "confidence"[, "metadata"]}`.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "auditor": self.auditor,
            "auditor_sha256": self.auditor_sha256,
            "name": self.claim.name,
            "type": self.claim.value.claim_type(),
            "value": self.claim.value.to_json(),
            "confidence": self.claim.confidence,
        });
        if let Some(m) = &self.claim.metadata {
            v["metadata"] = m.clone();
        }
        v
    }
}

impl Serialize for AttributedClaim {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

/// What happened to one loaded auditor in one phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RunOutcome {
    Ran,
    Failed {
        kind: ErrorKind,
        message: String,
        fail_open: bool,
    },
    /// Disabled in the configuration.
    Disabled,
    /// The auditor does not observe this phase.
    NotSubscribed,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditorRun {
    pub auditor: String,
    #[serde(flatten)]
    pub outcome: RunOutcome,
    pub duration_us: u64,
}

/// Which auditors ran, failed, or were not evaluated in a phase (sorted ids).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Coverage {
    pub ran: Vec<String>,
    pub failed: Vec<String>,
    pub skipped: Vec<String>,
}

/// The result of one phase.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseReport {
    pub phase: Phase,
    pub claims: Vec<AttributedClaim>,
    pub runs: Vec<AuditorRun>,
    /// Some auditor failed and is not `fail_open`: the exchange must be denied.
    pub fail_closed: bool,
    pub duration: Duration,
}

impl PhaseReport {
    pub fn coverage(&self) -> Coverage {
        let mut c = Coverage::default();
        for run in &self.runs {
            let list = match run.outcome {
                RunOutcome::Ran => &mut c.ran,
                RunOutcome::Failed { .. } => &mut c.failed,
                RunOutcome::Disabled | RunOutcome::NotSubscribed => &mut c.skipped,
            };
            list.push(run.auditor.clone());
        }
        c
    }
}

/// Effective policies of the auditors of one plugin set. A configuration error for one auditor
/// makes it fail (closed, unless configured otherwise) at every call rather than run unchecked.
pub type Policies = BTreeMap<String, Result<AuditorPolicy, String>>;

pub fn policies(config: &Config, set: &PluginSet) -> Policies {
    set.plugins
        .iter()
        .map(|p| {
            let id = p.auditor.id().to_string();
            (
                id,
                config
                    .policy_for(&p.auditor.vocabulary)
                    .map_err(|e| e.to_string()),
            )
        })
        .collect()
}

/// A plugin set, the policies its auditors run under and the artifact-phase result for them:
/// everything one exchange needs, taken once at its start.
#[derive(Debug, Clone)]
pub struct RuntimeView {
    pub set: Arc<PluginSet>,
    pub policies: Arc<Policies>,
    /// The artifact descriptor the artifact phase observed.
    pub artifacts: Value,
    /// The artifact phase's report; its claims are attached to every exchange's evidence.
    pub artifact: Option<Arc<PhaseReport>>,
}

impl RuntimeView {
    /// A view without running the artifact phase (for one-off runs and tests).
    pub fn new(set: Arc<PluginSet>, config: &Config) -> Self {
        let policies = Arc::new(policies(config, &set));
        RuntimeView {
            artifacts: artifact_descriptor(&set, None, None),
            set,
            policies,
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
    plugins: Arc<crate::reload::PluginHost>,
    config: Config,
    config_hash: Option<String>,
    runner: PhaseRunner,
    view: std::sync::RwLock<Arc<RuntimeView>>,
}

impl Auditing {
    pub fn new(
        plugins: Arc<crate::reload::PluginHost>,
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

    pub fn plugins(&self) -> &Arc<crate::reload::PluginHost> {
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

    /// Take a new plugin set into use: policies, artifact phase, swap.
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

/// Runs the auditors of a phase.
pub struct PhaseRunner {
    sandbox: Arc<Sandbox>,
    parallelism: usize,
}

struct Job<'a> {
    plugin: &'a LoadedPlugin,
    policy: &'a AuditorPolicy,
    settings: std::borrow::Cow<'a, crate::vocabulary::Settings>,
}

impl PhaseRunner {
    pub fn new(sandbox: Arc<Sandbox>) -> Self {
        let parallelism = std::thread::available_parallelism().map_or(1, |n| n.get());
        PhaseRunner {
            sandbox,
            parallelism,
        }
    }

    pub fn with_parallelism(mut self, n: usize) -> Self {
        self.parallelism = n.max(1);
        self
    }

    pub fn sandbox(&self) -> &Arc<Sandbox> {
        &self.sandbox
    }

    /// Run every enabled auditor of `view` that observes `input.phase`. Blocking: call it from a
    /// blocking-capable thread (e.g. `tokio::task::spawn_blocking`), never from an async worker.
    pub fn run(&self, view: &RuntimeView, input: &ObservationInput) -> PhaseReport {
        self.run_scoped(view, input, None)
    }

    /// Like `run`, with the effective settings of the exchange's scope (auditor → setting →
    /// value, already checked against the org's enforcement) replacing the configured ones.
    pub fn run_scoped(
        &self,
        view: &RuntimeView,
        input: &ObservationInput,
        overrides: Option<&crate::scopes::ScopeOverrides>,
    ) -> PhaseReport {
        let started = Instant::now();
        let phase = input.phase;
        let mut runs: Vec<Option<AuditorRun>> = vec![None; view.set.plugins.len()];
        let mut jobs: Vec<(usize, Job<'_>)> = Vec::new();
        let mut config_failures: Vec<(usize, String, bool)> = Vec::new();
        for (i, plugin) in view.set.plugins.iter().enumerate() {
            let id = plugin.auditor.id();
            let skip = |outcome| {
                Some(AuditorRun {
                    auditor: id.to_string(),
                    outcome,
                    duration_us: 0,
                })
            };
            match view.policies.get(id) {
                _ if !plugin.auditor.vocabulary.observes(phase) => {
                    runs[i] = skip(RunOutcome::NotSubscribed)
                }
                Some(Ok(policy)) if !policy.enabled => runs[i] = skip(RunOutcome::Disabled),
                Some(Ok(policy)) => match scoped_settings(plugin, policy, overrides) {
                    Ok(settings) => jobs.push((
                        i,
                        Job {
                            plugin,
                            policy,
                            settings,
                        },
                    )),
                    Err(e) => config_failures.push((i, e, policy.fail_open)),
                },
                Some(Err(e)) => config_failures.push((i, format!("configuration: {e}"), false)),
                None => config_failures.push((i, "no policy for this auditor".into(), false)),
            }
        }
        let results = self.execute(&jobs, input);
        let mut claims_by_auditor: Vec<Vec<AttributedClaim>> = vec![Vec::new(); runs.len()];
        let mut fail_closed = false;
        for ((i, job), result) in jobs.iter().zip(results) {
            let plugin = job.plugin;
            let (outcome, duration) = match result {
                Ok(Observed { claims, duration }) => {
                    claims_by_auditor[*i] = claims
                        .into_iter()
                        .map(|claim| attribute(plugin, claim))
                        .collect();
                    (RunOutcome::Ran, duration)
                }
                Err((error, duration)) => {
                    fail_closed |= !job.policy.fail_open;
                    (
                        failure(
                            plugin,
                            error,
                            job.policy.fail_open,
                            &mut claims_by_auditor[*i],
                        ),
                        duration,
                    )
                }
            };
            runs[*i] = Some(AuditorRun {
                auditor: plugin.auditor.id().to_string(),
                outcome,
                duration_us: duration.as_micros() as u64,
            });
        }
        for (i, message, fail_open) in config_failures {
            let plugin = &view.set.plugins[i];
            fail_closed |= !fail_open;
            let error = GuestError::new(ErrorKind::Error, message);
            let outcome = failure(plugin, error, fail_open, &mut claims_by_auditor[i]);
            runs[i] = Some(AuditorRun {
                auditor: plugin.auditor.id().to_string(),
                outcome,
                duration_us: 0,
            });
        }
        PhaseReport {
            phase,
            claims: claims_by_auditor.into_iter().flatten().collect(),
            runs: runs.into_iter().flatten().collect(),
            fail_closed,
            duration: started.elapsed(),
        }
    }

    /// Run the jobs on up to `parallelism` threads (this one included); results in job order.
    fn execute(
        &self,
        jobs: &[(usize, Job<'_>)],
        input: &ObservationInput,
    ) -> Vec<Result<Observed, (GuestError, Duration)>> {
        let run_one = |job: &Job<'_>| {
            let started = Instant::now();
            job.plugin
                .auditor
                .observe(&self.sandbox, input, &job.settings, &job.policy.limits)
                .map_err(|e| (e, started.elapsed()))
        };
        let workers = self.parallelism.min(jobs.len());
        if workers <= 1 {
            return jobs.iter().map(|(_, job)| run_one(job)).collect();
        }
        let next = AtomicUsize::new(0);
        let work = || {
            let mut done = Vec::new();
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some((_, job)) = jobs.get(k) else {
                    return done;
                };
                done.push((k, run_one(job)));
            }
        };
        let mut results: Vec<Option<Result<Observed, (GuestError, Duration)>>> =
            (0..jobs.len()).map(|_| None).collect();
        std::thread::scope(|scope| {
            let helpers: Vec<_> = (1..workers).map(|_| scope.spawn(work)).collect();
            for (k, r) in work() {
                results[k] = Some(r);
            }
            for helper in helpers {
                // A worker only panics if the host itself has a bug; its jobs count as traps.
                if let Ok(done) = helper.join() {
                    for (k, r) in done {
                        results[k] = Some(r);
                    }
                }
            }
        });
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err((
                        GuestError::new(ErrorKind::Trap, "the host worker running it failed"),
                        Duration::ZERO,
                    ))
                })
            })
            .collect()
    }
}

/// The settings an auditor runs with for a scope: its configured ones, with the scope's
/// effective values (typed against the vocabulary) on top.
fn scoped_settings<'a>(
    plugin: &LoadedPlugin,
    policy: &'a AuditorPolicy,
    overrides: Option<&crate::scopes::ScopeOverrides>,
) -> Result<std::borrow::Cow<'a, crate::vocabulary::Settings>, String> {
    let Some(values) = overrides.and_then(|o| o.get(plugin.auditor.id())) else {
        return Ok(std::borrow::Cow::Borrowed(&policy.settings));
    };
    let mut settings = policy.settings.clone();
    for (name, value) in values {
        let Some(spec) = plugin.auditor.vocabulary.setting(name) else {
            return Err(format!(
                "scope override: {}",
                plugin.auditor.vocabulary.unknown_setting(name)
            ));
        };
        let typed = crate::vocabulary::SettingValue::from_json_as(spec.ty, value)
            .map_err(|e| format!("scope override of setting '{name}': {e}"))?;
        settings.0.insert(name.clone(), typed);
    }
    Ok(std::borrow::Cow::Owned(settings))
}

fn attribute(plugin: &LoadedPlugin, claim: Claim) -> AttributedClaim {
    AttributedClaim {
        auditor: plugin.auditor.id().to_string(),
        auditor_sha256: plugin.auditor.sha256.clone(),
        claim,
    }
}

/// Record a failure: log it, add the `lucid.auditor_error` claim, return the outcome.
fn failure(
    plugin: &LoadedPlugin,
    error: GuestError,
    fail_open: bool,
    claims: &mut Vec<AttributedClaim>,
) -> RunOutcome {
    let id = plugin.auditor.id();
    tracing::warn!(auditor = id, kind = %error.kind, fail_open, "auditor failed: {}", error.message);
    claims.clear();
    claims.push(attribute(plugin, error_claim(id, &error)));
    RunOutcome::Failed {
        kind: error.kind,
        message: error.message,
        fail_open,
    }
}

/// The `lucid.auditor_error` claim for a failure.
pub fn error_claim(auditor: &str, error: &GuestError) -> Claim {
    Claim {
        name: AUDITOR_ERROR_CLAIM.to_string(),
        value: ClaimValue::Object(json!({
            "auditor": auditor,
            "kind": error.kind,
            "message": error.message,
        })),
        confidence: 1.0,
        metadata: None,
    }
}

/// Whether an exchange carries tool definitions or tool calls (then the execution phase runs).
pub fn has_tool_calls(request: &Value, response: Option<&Value>) -> bool {
    let calls_in = |messages: Option<&Value>| {
        messages.and_then(Value::as_array).is_some_and(|ms| {
            ms.iter()
                .any(|m| m.get("tool_calls").is_some_and(|t| !t.is_null()))
        })
    };
    let declares_tools = request
        .get("tools")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty());
    let request_calls = declares_tools || calls_in(request.get("messages"));
    let response_calls = response
        .and_then(|r| r.get("choices"))
        .and_then(Value::as_array)
        .is_some_and(|choices| {
            choices.iter().any(|c| {
                c.get("message")
                    .and_then(|m| m.get("tool_calls"))
                    .is_some_and(|t| t.as_array().is_some_and(|a| !a.is_empty()))
            })
        });
    request_calls || response_calls
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_calls_are_found_in_requests_and_responses() {
        let plain = json!({"messages": [{"role": "user", "content": "hi"}]});
        assert!(!has_tool_calls(&plain, None));
        let tools = json!({"messages": [], "tools": [{"type": "function"}]});
        assert!(has_tool_calls(&tools, None));
        let with_call = json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "1"}]}]});
        assert!(has_tool_calls(&with_call, None));
        let response = json!({"choices": [{"message": {"tool_calls": [{"id": "c"}]}}]});
        assert!(has_tool_calls(&plain, Some(&response)));
        let empty = json!({"choices": [{"message": {"tool_calls": []}}]});
        assert!(!has_tool_calls(&plain, Some(&empty)));
    }

    #[test]
    fn error_claims_carry_auditor_kind_and_message() {
        let claim = error_claim("pii", &GuestError::new(ErrorKind::Timeout, "too slow"));
        assert_eq!(claim.name, AUDITOR_ERROR_CLAIM);
        assert_eq!(
            claim.value.to_json(),
            json!({"auditor": "pii", "kind": "timeout", "message": "too slow"})
        );
    }
}
