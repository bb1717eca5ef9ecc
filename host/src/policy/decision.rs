//! Cedar in the host: the policy directory validated against the schema generated from the
//! loaded auditors, swapped in only when valid (the last valid set stays in force otherwise and
//! the gateway reports itself degraded), and the per-phase decision over a phase report.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use lucid_policy as lp;

use serde::Serialize;

use crate::runtime::claim::ClaimType;
use crate::runtime::plugin_dir::PluginSet;
use crate::runtime::{AUDITOR_ERROR_CLAIM, PhaseReport, RunOutcome};

/// `allow` or `deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
        }
    }
}

/// The decision of one phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseDecision {
    pub effect: Effect,
    /// Ids of the determining policies.
    pub reasons: Vec<String>,
    /// Evaluation errors (each of which made the phase deny) and auditor failures.
    pub errors: Vec<String>,
    /// An allow after masking: the `@redact` rules that held, whose claims' spans the gateway
    /// masks before the text goes on (or denies the phase when it cannot).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redact: Vec<lp::Redact>,
}

/// The policy set in force: a validated set with its engine, or — when no set validates against
/// the loaded plugins — a refusal that denies every phase and names why.
pub struct PolicyState {
    /// `None`: nothing is in force, every decision denies with `refusal`.
    pub engine: Option<lp::Engine>,
    /// SHA-256 over the sorted files (`path\n<bytes>\n` each); 64 zeros when nothing is in force.
    pub hash: String,
    pub files: Vec<String>,
    /// Why nothing is in force.
    pub refusal: Option<String>,
    /// Artifact-phase decisions made under this set, per scope and model: the artifact phase
    /// runs once per plugin set, so its decision for a scope is the same for every exchange.
    artifact_decisions: ArtifactDecisions,
}

/// Scope and model → the artifact report decided and its decision. Bounded: emptied when full.
type ArtifactDecisions = std::sync::Mutex<
    std::collections::HashMap<(lucid_contract::Scope, String), (Arc<PhaseReport>, PhaseDecision)>,
>;

/// Artifact decisions one policy set keeps, and the longest model name it keeps one for.
const MAX_ARTIFACT_DECISIONS: usize = 1024;
const MAX_CACHED_MODEL_BYTES: usize = 256;

impl PolicyState {
    pub fn schema_text(&self) -> Option<&str> {
        self.engine.as_ref().map(|e| e.schema().text())
    }

    /// A state that denies everything, naming `reason`.
    pub fn refusing(reason: String) -> PolicyState {
        PolicyState {
            engine: None,
            hash: "0".repeat(64),
            files: Vec::new(),
            refusal: Some(reason),
            artifact_decisions: Default::default(),
        }
    }
}

/// The policy directory and the state in force.
pub struct PolicyRuntime {
    dir: PathBuf,
    current: RwLock<Arc<PolicyState>>,
    problem: RwLock<Option<String>>,
}

/// What the policy engine needs to know of the loaded auditors.
pub fn vocabularies(set: &PluginSet) -> Vec<lp::AuditorVocabulary> {
    set.plugins
        .iter()
        .map(|p| {
            lp::AuditorVocabulary::new(
                p.auditor.id(),
                p.auditor
                    .vocabulary
                    .claims
                    .iter()
                    .map(|c| (c.name.clone(), c.ty)),
            )
        })
        .collect()
}

/// Load and strictly validate the policies of `dir` against the schema of `set`.
pub fn load_state(dir: &Path, set: &PluginSet) -> Result<PolicyState, String> {
    let schema = lp::Schema::from_vocabularies(&vocabularies(set)).map_err(|e| e.to_string())?;
    let policies = lp::PolicySet::load_dir(dir).map_err(|e| e.to_string())?;
    let hash = policies.hash().to_string();
    let files: Vec<String> = policies.files().map(String::from).collect();
    let engine = lp::Engine::new(schema, policies).map_err(|diagnostics| {
        diagnostics
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    Ok(PolicyState {
        engine: Some(engine),
        hash,
        files,
        refusal: None,
        artifact_decisions: Default::default(),
    })
}

impl PolicyRuntime {
    /// Load at start. A set that does not validate against the loaded plugins does not stop
    /// the gateway: nothing is in force, every exchange is denied (with a receipt naming the
    /// reason), `/health` says degraded, and a fix (the plugin back, the policy changed) takes
    /// effect by hot reload.
    pub fn load(dir: &Path, set: &PluginSet) -> PolicyRuntime {
        let runtime = PolicyRuntime {
            dir: dir.to_path_buf(),
            current: RwLock::new(Arc::new(PolicyState::refusing(
                "no policy set loaded yet".into(),
            ))),
            problem: RwLock::new(None),
        };
        runtime.reload(set);
        runtime
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn current(&self) -> Arc<PolicyState> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Why the gateway is degraded, if the last reload failed.
    pub fn problem(&self) -> Option<String> {
        self.problem
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reload after a change of the policy dir or the plugin set. An invalid set is never
    /// applied. If the set in force still validates against `set` (only the policy files are
    /// broken), it stays in force; if it does not (say, an auditor it relies on was removed),
    /// nothing is in force and every exchange is denied until a fix arrives — never a policy
    /// whose `has` guards silently stopped matching. The problem is kept for `/health`.
    pub fn reload(&self, set: &PluginSet) -> bool {
        let result = load_state(&self.dir, set);
        let mut problem = self.problem.write().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(state) => {
                let changed = state.hash != self.current().hash;
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(state);
                *problem = None;
                changed
            }
            Err(message) => {
                let message = format!("policy set in {} is invalid: {message}", self.dir.display());
                let in_force = self.current();
                let still_valid = in_force.engine.as_ref().is_some_and(|engine| {
                    lp::Schema::from_vocabularies(&vocabularies(set))
                        .is_ok_and(|schema| lp::validate(engine.policies(), &schema).is_ok())
                });
                if still_valid {
                    tracing::error!("{message}; keeping the last valid set, which still validates");
                } else {
                    tracing::error!(
                        "{message}; the set in force does not validate against the loaded plugins either: denying every exchange until this is fixed"
                    );
                    *self.current.write().unwrap_or_else(|p| p.into_inner()) =
                        Arc::new(PolicyState::refusing(message.clone()));
                }
                *problem = Some(message);
                false
            }
        }
    }
}

/// [`decide`] for the artifact phase's report, which is the same for every exchange of a plugin
/// set: decided once per scope and model under this policy set, then remembered.
pub fn decide_artifact(
    state: &PolicyState,
    scope: &lucid_contract::Scope,
    model: &str,
    artifact: &Arc<PhaseReport>,
) -> PhaseDecision {
    if model.len() > MAX_CACHED_MODEL_BYTES {
        return decide(state, scope, model, artifact, None);
    }
    let key = (scope.clone(), model.to_string());
    let lock = || {
        state
            .artifact_decisions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    };
    if let Some((report, decision)) = lock().get(&key)
        && Arc::ptr_eq(report, artifact)
    {
        return decision.clone();
    }
    let decision = decide(state, scope, model, artifact, None);
    let mut cache = lock();
    if cache.len() >= MAX_ARTIFACT_DECISIONS {
        cache.clear();
    }
    cache.insert(key, (artifact.clone(), decision.clone()));
    decision
}

/// Decide one phase: Cedar over the phase's claims (and the artifact claims), plus the failure
/// policy: an auditor that failed without `fail_open` denies whatever Cedar says.
pub fn decide(
    state: &PolicyState,
    scope: &lucid_contract::Scope,
    model: &str,
    report: &PhaseReport,
    artifact: Option<&PhaseReport>,
) -> PhaseDecision {
    let Some(engine) = &state.engine else {
        let reason = state.refusal.as_deref().unwrap_or("no policy set in force");
        return PhaseDecision {
            effect: Effect::Deny,
            reasons: Vec::new(),
            errors: vec![format!("no policy in force: {reason}")],
            redact: Vec::new(),
        };
    };
    let mut claims: Vec<lp::Claim> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for c in report
        .claims
        .iter()
        .chain(artifact.into_iter().flat_map(|a| a.claims.iter()))
    {
        if c.claim.name == AUDITOR_ERROR_CLAIM || !seen.insert(c.claim.name.as_str()) {
            continue;
        }
        // Object claims are not exposed to policies.
        if c.claim.value.claim_type() == ClaimType::Object {
            continue;
        }
        claims.push(c.claim.clone());
    }
    let coverage = report.coverage();
    let request = lp::DecisionRequest {
        scope: scope.clone(),
        phase: report.phase,
        model: model.to_string(),
        claims,
        coverage: lp::Coverage {
            ran: coverage
                .ran
                .iter()
                .chain(&coverage.failed)
                .cloned()
                .collect(),
            failed: coverage.failed.clone(),
        },
    };
    let decision = engine.decide(&request);
    let mut errors = decision.errors;
    for run in &report.runs {
        if let RunOutcome::Failed {
            kind,
            message,
            fail_open: false,
        } = &run.outcome
        {
            errors.push(format!(
                "auditor '{}' failed ({kind}): {message}",
                run.auditor
            ));
        }
    }
    let effect = match decision.effect {
        lp::Effect::Allow if !report.fail_closed => Effect::Allow,
        _ => Effect::Deny,
    };
    let redact = if effect == Effect::Allow {
        decision.redact
    } else {
        Vec::new()
    };
    PhaseDecision {
        effect,
        reasons: decision.reasons,
        errors,
        redact,
    }
}
