//! Detection overrides per scope: the org admin sets an enforcement mode per auditor setting
//! (`exact`, `floor`, `ceiling`, `superset`, `unlocked`); workspaces and agents override settings
//! within those bounds. The effective settings are what auditors receive. Configured under
//! `[orgs.<org>]` in lucid.toml and changed at run time with
//! `PUT /v1/scopes/{org}/{workspace}/{agent}/overrides`.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use lucid_policy::overrides::Settings as ScopeSettingsMap;
use lucid_policy::{OverrideError, ScopeSettings};
use serde_json::Value;

use crate::ar::Scope;
use crate::runtime::RuntimeView;

/// Effective settings for one scope: auditor id → setting → value.
pub type ScopeOverrides = ScopeSettingsMap;

pub struct Overrides {
    settings: RwLock<ScopeSettings>,
}

/// The defaults overrides apply to: every loaded auditor's settings as configured.
pub fn defaults(view: &RuntimeView) -> ScopeSettingsMap {
    view.set
        .plugins
        .iter()
        .map(|p| {
            let id = p.auditor.id().to_string();
            let settings = match view.policies.get(&id) {
                Some(Ok(policy)) => policy.settings.clone(),
                _ => p.auditor.vocabulary.default_settings(),
            };
            let values: BTreeMap<String, Value> = settings
                .0
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect();
            (id, values)
        })
        .collect()
}

fn lp_scope(scope: &Scope) -> lucid_policy::Scope {
    lucid_policy::Scope {
        org: scope.org.clone(),
        workspace: scope.workspace.clone(),
        agent: scope.agent.clone(),
    }
}

impl Overrides {
    pub fn new(settings: ScopeSettings) -> Overrides {
        Overrides {
            settings: RwLock::new(settings),
        }
    }

    /// Check every configured enforcement and override against the loaded auditors.
    pub fn check(&self, view: &RuntimeView) -> Result<(), Vec<OverrideError>> {
        self.settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .check(&defaults(view))
    }

    /// The effective settings of `scope`, or `None` when its org has no entry (the configured
    /// settings apply as they are). A scope whose overrides no longer fit (say, after a plugin
    /// changed) falls back to the org-bounded defaults, never to an unchecked value.
    pub fn for_scope(&self, scope: &Scope, view: &RuntimeView) -> Option<Arc<ScopeOverrides>> {
        let settings = self.settings.read().unwrap_or_else(|p| p.into_inner());
        if !settings.orgs.contains_key(&scope.org) {
            return None;
        }
        let defaults = defaults(view);
        match settings.effective(&defaults, &lp_scope(scope)) {
            Ok(effective) => Some(Arc::new(effective)),
            Err(errors) => {
                tracing::error!(org = %scope.org, "scope overrides do not fit, using defaults: {:?}", errors);
                Some(Arc::new(defaults))
            }
        }
    }

    /// Replace the overrides of one agent (workspace-level when `agent` is `*`). Rejected, with
    /// every violation, when they break the org's enforcement.
    pub fn put(
        &self,
        scope: &Scope,
        overrides: ScopeSettingsMap,
        view: &RuntimeView,
    ) -> Result<ScopeOverrides, Vec<OverrideError>> {
        let mut settings = self.settings.write().unwrap_or_else(|p| p.into_inner());
        let mut next = settings.clone();
        let org = next.orgs.entry(scope.org.clone()).or_default();
        let workspace = org.workspaces.entry(scope.workspace.clone()).or_default();
        if scope.agent == "*" {
            workspace.overrides = overrides;
        } else {
            workspace
                .agents
                .entry(scope.agent.clone())
                .or_default()
                .overrides = overrides;
        }
        let defaults = defaults(view);
        let effective = next.effective(&defaults, &lp_scope(scope))?;
        *settings = next;
        Ok(effective)
    }
}
