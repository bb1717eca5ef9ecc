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
}

/// A validated policy set with its engine.
pub struct PolicyState {
    pub engine: lp::Engine,
    /// SHA-256 over the sorted files (`path\n<bytes>\n` each).
    pub hash: String,
    pub files: Vec<String>,
}

impl PolicyState {
    pub fn schema_text(&self) -> &str {
        self.engine.schema().text()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyLoadError {
    #[error("policies in {dir}: {message}")]
    Invalid { dir: String, message: String },
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
        engine,
        hash,
        files,
    })
}

impl PolicyRuntime {
    /// Load at start: an invalid policy set is a startup error.
    pub fn load(dir: &Path, set: &PluginSet) -> Result<PolicyRuntime, PolicyLoadError> {
        let state = load_state(dir, set).map_err(|message| PolicyLoadError::Invalid {
            dir: dir.display().to_string(),
            message,
        })?;
        Ok(PolicyRuntime {
            dir: dir.to_path_buf(),
            current: RwLock::new(Arc::new(state)),
            problem: RwLock::new(None),
        })
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
    /// applied: the previous one stays, the error is logged and kept for `/health`.
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
                tracing::error!(dir = %self.dir.display(), "policy set not applied, keeping the last valid one: {message}");
                *problem = Some(format!(
                    "policy set in {} is invalid: {message}",
                    self.dir.display()
                ));
                false
            }
        }
    }
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
    let decision = state.engine.decide(&request);
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
    PhaseDecision {
        effect,
        reasons: decision.reasons,
        errors,
    }
}
