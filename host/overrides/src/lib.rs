//! Detection overrides: an org admin bounds each auditor setting with an enforcement mode, and
//! workspaces and agents may override the setting only within those bounds.
//!
//! This is pure logic over JSON values (settings are booleans, counts, numbers, strings or lists
//! of strings), so the host can run it when it loads its config and when an API call changes an
//! override (answering 422 with the error's message). The configuration, in TOML:
//!
//! ```toml
//! [orgs.acme.enforcement.injection]
//! threshold = { mode = "ceiling", value = 0.7 }   # the org's value, and the bound
//! [orgs.acme.enforcement.token_budget]
//! max_tokens = { mode = "unlocked" }              # no value: the auditor's default
//!
//! [orgs.acme.workspaces.research.overrides.injection]
//! threshold = 0.6
//! [orgs.acme.workspaces.research.agents.triage.overrides.token_budget]
//! max_tokens = 2048
//! ```
//!
//! The effective value of a setting is the agent's override, else the workspace's, else the
//! org's enforcement value, else the auditor's default. A setting the org does not mention is
//! `unlocked` at the auditor's default.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use lucid_contract::Scope;

/// Setting values by auditor id, then setting name.
pub type Settings = BTreeMap<String, BTreeMap<String, Value>>;

/// An org's enforcement by auditor id, then setting name.
pub type Enforcements = BTreeMap<String, BTreeMap<String, Enforcement>>;

/// How an org bounds the overrides of one setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnforcementMode {
    /// Overrides must equal the value (lists compare as sets).
    Exact,
    /// Overrides must be at least the value (numbers and counts).
    Floor,
    /// Overrides must be at most the value (numbers and counts).
    Ceiling,
    /// Overrides must contain every item of the value (lists of strings).
    Superset,
    /// Any override of the setting's type.
    Unlocked,
}

impl EnforcementMode {
    pub fn as_str(self) -> &'static str {
        match self {
            EnforcementMode::Exact => "exact",
            EnforcementMode::Floor => "floor",
            EnforcementMode::Ceiling => "ceiling",
            EnforcementMode::Superset => "superset",
            EnforcementMode::Unlocked => "unlocked",
        }
    }
}

impl std::fmt::Display for EnforcementMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `{ mode = "floor", value = 0.7 }`: the mode, and the org's value, which is also the bound.
/// Only `unlocked` may leave out the value (the auditor's default is used).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enforcement {
    pub mode: EnforcementMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// The type of a setting, as the host's vocabulary names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingKind {
    Boolean,
    Count,
    Number,
    String,
    StringList,
}

impl SettingKind {
    /// The kind of a value: an unsigned integer is a count, any other number a number.
    pub fn of(value: &Value) -> Option<SettingKind> {
        Some(match value {
            Value::Bool(_) => SettingKind::Boolean,
            Value::Number(n) if n.is_u64() => SettingKind::Count,
            Value::Number(_) => SettingKind::Number,
            Value::String(_) => SettingKind::String,
            Value::Array(items) if items.iter().all(Value::is_string) => SettingKind::StringList,
            _ => return None,
        })
    }

    /// Whether `value` is of this kind: a count is also a number, and a whole float such as
    /// `4096.0` is also a count (it prints as `4096`, so rejecting it would read as nonsense).
    pub fn accepts(self, value: &Value) -> bool {
        match self {
            SettingKind::Number => value.as_f64().is_some_and(f64::is_finite),
            SettingKind::Count => value.is_u64() || whole_float(value).is_some(),
            kind => SettingKind::of(value) == Some(kind),
        }
    }

    fn described(self) -> &'static str {
        match self {
            SettingKind::Boolean => "a boolean",
            SettingKind::Count => "a count",
            SettingKind::Number => "a number",
            SettingKind::String => "a string",
            SettingKind::StringList => "a list of strings",
        }
    }
}

/// What is wrong with an override value.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    BelowFloor,
    AboveCeiling,
    DoesNotMatch,
    /// Items of the bound the override leaves out.
    Missing(Vec<String>),
    /// The value is not of the setting's kind.
    NotA(SettingKind),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::BelowFloor => f.write_str("is below the floor"),
            Problem::AboveCeiling => f.write_str("is above the ceiling"),
            Problem::DoesNotMatch => f.write_str("does not match"),
            Problem::Missing(items) => {
                let quoted: Vec<String> = items
                    .iter()
                    .map(|i| show(&Value::from(i.as_str())))
                    .collect();
                write!(f, "is missing {}", quoted.join(", "))
            }
            Problem::NotA(kind) => write!(f, "is not {}", kind.described()),
        }
    }
}

/// An override that breaks the org's enforcement of its setting.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "Field '{field}' has {mode} enforcement ({}). Override value {} {problem}.",
    show(bound),
    show(value)
)]
pub struct Violation {
    pub field: String,
    pub mode: EnforcementMode,
    pub bound: Value,
    pub value: Value,
    pub problem: Problem,
}

/// A rejected override or enforcement. The messages keep one shape, shown to API users as is:
/// `Field 'threshold' has floor enforcement (0.7). Override value 0.5 is below the floor.`
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OverrideError {
    #[error(transparent)]
    Violation(Box<Violation>),
    #[error("Field '{field}' is not a setting of auditor '{auditor}'.")]
    UnknownSetting { auditor: String, field: String },
    #[error("Field '{field}' has {mode} enforcement but no value.")]
    MissingBound {
        field: String,
        mode: EnforcementMode,
    },
    /// The org's own value does not suit the setting or the mode (`expected` is `None` when the
    /// value is no setting value at all, such as a table).
    #[error("Field '{field}' has {mode} enforcement ({}), which is not {}.", show(bound), expected.map_or("a setting value", SettingKind::described))]
    InvalidBound {
        field: String,
        mode: EnforcementMode,
        bound: Value,
        expected: Option<SettingKind>,
    },
}

impl OverrideError {
    /// The setting the error is about.
    pub fn field(&self) -> &str {
        match self {
            OverrideError::Violation(v) => &v.field,
            OverrideError::UnknownSetting { field, .. }
            | OverrideError::MissingBound { field, .. }
            | OverrideError::InvalidBound { field, .. } => field,
        }
    }
}

/// Check one override against the org's enforcement of `field`. The setting's kind is taken
/// from `bound` (an integer bound makes a count; [`effective_settings`] uses the auditor's
/// default instead, so a number setting bounded by `1` still accepts `0.5`).
pub fn check_override(
    field: &str,
    mode: EnforcementMode,
    bound: &Value,
    value: &Value,
) -> Result<(), OverrideError> {
    let Some(kind) = SettingKind::of(bound) else {
        return Err(OverrideError::InvalidBound {
            field: field.into(),
            mode,
            bound: bound.clone(),
            expected: None,
        });
    };
    check_with_kind(field, kind, mode, bound, value)
}

fn check_with_kind(
    field: &str,
    kind: SettingKind,
    mode: EnforcementMode,
    bound: &Value,
    value: &Value,
) -> Result<(), OverrideError> {
    let invalid_bound = |expected| OverrideError::InvalidBound {
        field: field.into(),
        mode,
        bound: bound.clone(),
        expected: Some(expected),
    };
    if !kind.accepts(bound) {
        return Err(invalid_bound(kind));
    }
    match mode {
        EnforcementMode::Floor | EnforcementMode::Ceiling
            if !matches!(kind, SettingKind::Count | SettingKind::Number) =>
        {
            return Err(invalid_bound(SettingKind::Number));
        }
        EnforcementMode::Superset if kind != SettingKind::StringList => {
            return Err(invalid_bound(SettingKind::StringList));
        }
        _ => {}
    }
    let violation = |problem| {
        OverrideError::Violation(Box::new(Violation {
            field: field.into(),
            mode,
            bound: bound.clone(),
            value: value.clone(),
            problem,
        }))
    };
    if !kind.accepts(value) {
        return Err(violation(Problem::NotA(kind)));
    }
    match mode {
        EnforcementMode::Unlocked => Ok(()),
        EnforcementMode::Exact if same(value, bound) => Ok(()),
        EnforcementMode::Exact => Err(violation(Problem::DoesNotMatch)),
        EnforcementMode::Floor if compare(value, bound).is_lt() => {
            Err(violation(Problem::BelowFloor))
        }
        EnforcementMode::Ceiling if compare(value, bound).is_gt() => {
            Err(violation(Problem::AboveCeiling))
        }
        EnforcementMode::Floor | EnforcementMode::Ceiling => Ok(()),
        EnforcementMode::Superset => {
            let given = strings(value);
            let missing: Vec<String> = strings(bound)
                .into_iter()
                .filter(|item| !given.contains(item))
                .map(str::to_string)
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(violation(Problem::Missing(missing)))
            }
        }
    }
}

/// The settings in force for one agent: for every setting of `defaults` (the auditors' declared
/// defaults), the agent's override, else the workspace's, else the org's enforcement value, else
/// the default. Every override must respect the org's enforcement, and every auditor and setting
/// named must exist; all problems are returned, not just the first.
pub fn effective_settings(
    defaults: &Settings,
    org: &Enforcements,
    workspace: &Settings,
    agent: &Settings,
) -> Result<Settings, Vec<OverrideError>> {
    let mut errors = Vec::new();
    let org_names = org.iter().map(|(a, s)| (a, s.keys().collect::<Vec<_>>()));
    let override_names = [workspace, agent]
        .into_iter()
        .flat_map(|o| o.iter().map(|(a, s)| (a, s.keys().collect::<Vec<_>>())));
    for (auditor, names) in org_names.chain(override_names) {
        for name in names {
            if defaults.get(auditor).and_then(|s| s.get(name)).is_none() {
                errors.push(OverrideError::UnknownSetting {
                    auditor: auditor.clone(),
                    field: name.clone(),
                });
            }
        }
    }

    let mut effective = Settings::new();
    for (auditor, settings) in defaults {
        let resolved = effective.entry(auditor.clone()).or_default();
        for (name, default) in settings {
            let Some(kind) = SettingKind::of(default) else {
                resolved.insert(name.clone(), default.clone());
                continue;
            };
            let enforcement = org.get(auditor).and_then(|s| s.get(name));
            let mode = enforcement.map_or(EnforcementMode::Unlocked, |e| e.mode);
            let bound = match enforcement.and_then(|e| e.value.as_ref()) {
                Some(bound) => bound,
                None if mode == EnforcementMode::Unlocked => default,
                None => {
                    errors.push(OverrideError::MissingBound {
                        field: name.clone(),
                        mode,
                    });
                    continue;
                }
            };
            // The org's own value must make sense for the setting and the mode.
            if let Err(e) = check_with_kind(name, kind, mode, bound, bound) {
                errors.push(e);
                continue;
            }
            let mut value = bound;
            for overrides in [workspace, agent] {
                if let Some(given) = overrides.get(auditor).and_then(|s| s.get(name)) {
                    match check_with_kind(name, kind, mode, bound, given) {
                        Ok(()) => value = given,
                        Err(e) => errors.push(e),
                    }
                }
            }
            resolved.insert(name.clone(), normalise(kind, value));
        }
    }
    if errors.is_empty() {
        Ok(effective)
    } else {
        Err(errors)
    }
}

/// The per-scope settings section of the config: `[orgs.<org>]` with its `enforcement`, its
/// `workspaces.<workspace>.overrides` and their `agents.<agent>.overrides`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeSettings {
    #[serde(default)]
    pub orgs: BTreeMap<String, OrgSettings>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgSettings {
    #[serde(default)]
    pub enforcement: Enforcements,
    #[serde(default)]
    pub workspaces: BTreeMap<String, WorkspaceSettings>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceSettings {
    #[serde(default)]
    pub overrides: Settings,
    #[serde(default)]
    pub agents: BTreeMap<String, AgentSettings>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSettings {
    #[serde(default)]
    pub overrides: Settings,
}

impl ScopeSettings {
    pub fn from_toml(text: &str) -> Result<ScopeSettings, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The settings in force for `scope` (an org, workspace or agent without an entry has no
    /// enforcement or overrides).
    pub fn effective(
        &self,
        defaults: &Settings,
        scope: &Scope,
    ) -> Result<Settings, Vec<OverrideError>> {
        let empty = Settings::new();
        let org = self.orgs.get(&scope.org);
        let workspace = org.and_then(|o| o.workspaces.get(&scope.workspace));
        let agent = workspace.and_then(|w| w.agents.get(&scope.agent));
        effective_settings(
            defaults,
            org.map_or(&Enforcements::new(), |o| &o.enforcement),
            workspace.map_or(&empty, |w| &w.overrides),
            agent.map_or(&empty, |a| &a.overrides),
        )
    }

    /// Check every enforcement and override of the config (at load time), so that a bad value
    /// is reported once, up front, rather than on the first request of that agent.
    pub fn check(&self, defaults: &Settings) -> Result<(), Vec<OverrideError>> {
        let empty = Settings::new();
        let mut errors = Vec::new();
        for org in self.orgs.values() {
            let mut record = |r: Result<Settings, Vec<OverrideError>>| {
                if let Err(e) = r {
                    for e in e {
                        if !errors.contains(&e) {
                            errors.push(e);
                        }
                    }
                }
            };
            record(effective_settings(
                defaults,
                &org.enforcement,
                &empty,
                &empty,
            ));
            for workspace in org.workspaces.values() {
                record(effective_settings(
                    defaults,
                    &org.enforcement,
                    &workspace.overrides,
                    &empty,
                ));
                for agent in workspace.agents.values() {
                    record(effective_settings(
                        defaults,
                        &org.enforcement,
                        &empty,
                        &agent.overrides,
                    ));
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// A value as the messages print it: numbers the natural way (`0.7`, `4096`, never `4096.0`),
/// strings quoted, lists as `["a","b"]`.
fn show(value: &Value) -> String {
    match value {
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            (_, _, Some(f)) => f.to_string(),
            _ => n.to_string(),
        },
        Value::Array(items) => {
            format!("[{}]", items.iter().map(show).collect::<Vec<_>>().join(","))
        }
        other => other.to_string(),
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => compare(a, b).is_eq(),
        (Value::Array(_), Value::Array(_)) => {
            let (mut x, mut y) = (strings(a), strings(b));
            x.sort_unstable();
            x.dedup();
            y.sort_unstable();
            y.dedup();
            x == y
        }
        _ => a == b,
    }
}

/// Numbers compare exactly when both are integers, as f64 otherwise.
fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    let int = |v: &Value| {
        v.as_i64()
            .map(i128::from)
            .or_else(|| v.as_u64().map(i128::from))
    };
    match (int(a), int(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => {
            let (x, y) = (
                a.as_f64().unwrap_or(f64::NAN),
                b.as_f64().unwrap_or(f64::NAN),
            );
            x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal)
        }
    }
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// A number setting always comes out as a float (TOML's `threshold = 1` is an integer), a count
/// as an integer.
fn normalise(kind: SettingKind, value: &Value) -> Value {
    match kind {
        SettingKind::Number if !value.is_f64() => value.as_f64().map_or(Value::Null, Value::from),
        SettingKind::Count => whole_float(value).map_or_else(|| value.clone(), Value::from),
        _ => value.clone(),
    }
}

/// A float with no fractional part that fits a count exactly (below 2^53).
fn whole_float(value: &Value) -> Option<u64> {
    let f = value.as_f64().filter(|_| value.is_f64())?;
    (f.fract() == 0.0 && (0.0..9_007_199_254_740_992.0).contains(&f)).then_some(f as u64)
}
