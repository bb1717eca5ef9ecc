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

use crate::runtime::RuntimeView;
use lucid_contract::Scope;

/// Effective settings for one scope: auditor id → setting → value.
pub type ScopeOverrides = ScopeSettingsMap;

pub struct Overrides {
    settings: RwLock<ScopeSettings>,
    /// The enforcement of a bundle (`--preset <bundle>`): what every org without its own
    /// `[orgs.<org>]` entry starts with.
    default_enforcement: lucid_policy::overrides::Enforcements,
}

/// The defaults overrides apply to: every loaded auditor's settings as configured.
pub fn defaults(view: &RuntimeView) -> ScopeSettingsMap {
    view.set
        .plugins
        .iter()
        .map(|p| {
            let id = p.auditor.id().to_string();
            let settings = match view.run_configs.get(&id) {
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

impl Overrides {
    pub fn new(settings: ScopeSettings) -> Overrides {
        Self::with_default(settings, Default::default())
    }

    /// Overrides where orgs without an entry of their own get `enforcement` (a bundle's).
    pub fn with_default(
        mut settings: ScopeSettings,
        enforcement: lucid_policy::overrides::Enforcements,
    ) -> Overrides {
        if !enforcement.is_empty() {
            for org in settings.orgs.values_mut() {
                if org.enforcement.is_empty() {
                    org.enforcement = enforcement.clone();
                }
            }
        }
        Overrides {
            settings: RwLock::new(settings),
            default_enforcement: enforcement,
        }
    }

    /// The settings of `org`, or the bundle's enforcement for an org without its own entry.
    fn org_or_default(
        &self,
        settings: &ScopeSettings,
        org: &str,
    ) -> Option<lucid_policy::overrides::OrgSettings> {
        settings.orgs.get(org).cloned().or_else(|| {
            (!self.default_enforcement.is_empty()).then(|| lucid_policy::overrides::OrgSettings {
                enforcement: self.default_enforcement.clone(),
                ..Default::default()
            })
        })
    }

    /// Each configured org's enforcement (auditor → setting → mode and value), by org; the
    /// bundle's enforcement, which orgs without an entry of their own get, under `None`.
    pub fn enforcements(&self) -> Vec<(Option<String>, lucid_policy::overrides::Enforcements)> {
        let settings = self.settings.read().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<_> = settings
            .orgs
            .iter()
            .map(|(org, s)| (Some(org.clone()), s.enforcement.clone()))
            .collect();
        if !self.default_enforcement.is_empty() {
            out.push((None, self.default_enforcement.clone()));
        }
        out
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
        let org = self.org_or_default(&settings, &scope.org)?;
        let scoped = ScopeSettings {
            orgs: [(scope.org.clone(), org)].into(),
        };
        let defaults = defaults(view);
        match scoped.effective(&defaults, scope) {
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
        let change = self.prepare(scope, overrides, view)?;
        let effective = change.effective.clone();
        self.commit(change);
        Ok(effective)
    }

    /// A change checked against the org's enforcement, not applied yet: what [`Overrides::put`]
    /// does in two steps, so that the gateway can receipt a change before it takes effect.
    /// Changes must be serialized by the caller (prepare, then commit, one at a time); the
    /// gateway's admin API does so.
    pub fn prepare(
        &self,
        scope: &Scope,
        overrides: ScopeSettingsMap,
        view: &RuntimeView,
    ) -> Result<PreparedChange, Vec<OverrideError>> {
        let settings = self.settings.read().unwrap_or_else(|p| p.into_inner());
        let mut next = settings.clone();
        let start = self
            .org_or_default(&settings, &scope.org)
            .unwrap_or_default();
        let org = next.orgs.entry(scope.org.clone()).or_insert(start);
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
        let effective = next.effective(&defaults, scope)?;
        Ok(PreparedChange { next, effective })
    }

    /// Apply a prepared change.
    pub fn commit(&self, change: PreparedChange) {
        *self.settings.write().unwrap_or_else(|p| p.into_inner()) = change.next;
    }
}

/// A checked change of one scope's overrides ([`Overrides::prepare`]).
#[derive(Debug, Clone)]
pub struct PreparedChange {
    next: ScopeSettings,
    /// The scope's effective settings once the change is applied.
    pub effective: ScopeOverrides,
}
