//! Cedar in the host: the policy directory validated against the schema generated from the
//! loaded auditors, swapped in only when valid (the last valid set stays in force otherwise and
//! the gateway reports itself degraded), and the per-phase decision over a phase report.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use lucid_policy as lp;

use crate::ar::{Effect, PhaseDecision};
use crate::claim::{ClaimType, ClaimValue, Phase};
use crate::plugin_dir::PluginSet;
use crate::runtime::{AUDITOR_ERROR_CLAIM, PhaseReport, RunOutcome};

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
                    .map(|c| (c.name.clone(), claim_type(c.ty))),
            )
        })
        .collect()
}

fn claim_type(t: ClaimType) -> lp::ClaimType {
    match t {
        ClaimType::ScoreNormalized => lp::ClaimType::ScoreNormalized,
        ClaimType::Boolean => lp::ClaimType::Boolean,
        ClaimType::String => lp::ClaimType::String,
        ClaimType::StringList => lp::ClaimType::StringList,
        ClaimType::Count => lp::ClaimType::Count,
        ClaimType::DurationMs => lp::ClaimType::DurationMs,
        ClaimType::Object => lp::ClaimType::Object,
    }
}

fn phase(p: Phase) -> lp::Phase {
    match p {
        Phase::Artifact => lp::Phase::Artifact,
        Phase::Request => lp::Phase::Request,
        Phase::Execution => lp::Phase::Execution,
        Phase::Response => lp::Phase::Response,
    }
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
    scope: &crate::ar::Scope,
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
        let value = match &c.claim.value {
            ClaimValue::ScoreNormalized(v) => lp::ClaimValue::ScoreNormalized(*v),
            ClaimValue::Boolean(v) => lp::ClaimValue::Boolean(*v),
            ClaimValue::String(v) => lp::ClaimValue::String(v.clone()),
            ClaimValue::StringList(v) => lp::ClaimValue::StringList(v.clone()),
            ClaimValue::Count(v) => lp::ClaimValue::Count(*v),
            ClaimValue::DurationMs(v) => lp::ClaimValue::DurationMs(*v),
            ClaimValue::Object(_) => continue,
        };
        claims.push(lp::Claim::new(c.claim.name.clone(), value));
    }
    let coverage = report.coverage();
    let request = lp::DecisionRequest {
        scope: lp::Scope {
            org: scope.org.clone(),
            workspace: scope.workspace.clone(),
            agent: scope.agent.clone(),
        },
        phase: phase(report.phase),
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
