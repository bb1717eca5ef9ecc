//! Policy tests as data, in the style of Cedar's own samples: a policy directory's `tests.json`
//! lists requests and the decision each must get, so adding a case is adding data, not code.
//!
//! ```json
//! { "cases": [ {
//!     "name": "a card number in the prompt is denied",
//!     "scope": { "org": "acme", "workspace": "research", "agent": "triage" },
//!     "phase": "request",
//!     "model": "gpt-4o-mini",
//!     "claims": { "pii_entities": { "type": "string_list", "value": ["credit_card"] } },
//!     "coverage": { "ran": ["pii"], "failed": [] },
//!     "expect": { "effect": "deny", "reasons": ["balanced.deny-credit-card"] }
//! } ] }
//! ```
//!
//! `scope`, `model`, `claims` and `coverage` may be left out (a placeholder scope and model, no
//! claims, nothing ran); `expect.reasons`, when given, must match exactly (in any order).
//!
//! `expect.redact` lists the labels (`@id`) of the mask rules (`@redact` forbids) an allow
//! must ask for, e.g. `"expect": {"effect": "allow", "redact": ["balanced.mask-personal-data"]}`;
//! when given it must match exactly (in any order; `[]`: no masking). When left out, only the
//! effect (and `reasons`, if given) is checked, so an allow after masking passes
//! `"expect": {"effect": "allow"}` too.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;

use crate::claims::{Claim, ClaimValue, Coverage, DecisionRequest, Phase, Scope};
use crate::engine::{Decision, Effect, Engine, Redact};
use crate::error::PolicyError;
use crate::policy_set::PolicySet;
use crate::schema::Schema;

/// The file of cases inside a policy directory.
pub const TESTS_FILE: &str = "tests.json";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestsFile {
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default = "placeholder_scope")]
    scope: Scope,
    phase: Phase,
    #[serde(default = "placeholder_model")]
    model: String,
    #[serde(default)]
    claims: BTreeMap<String, ClaimValue>,
    #[serde(default)]
    coverage: Coverage,
    expect: Expected,
}

/// The decision a case must get.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub effect: Effect,
    #[serde(default)]
    pub reasons: Option<Vec<String>>,
    /// The labels of the mask rules the decision must ask for (see the module documentation).
    #[serde(default)]
    pub redact: Option<Vec<String>>,
}

/// One case's outcome.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub name: String,
    pub expected: Expected,
    pub got: Decision,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        let same = |expected: &Vec<String>, got: Vec<&str>| {
            let mut expected: Vec<&str> = expected.iter().map(String::as_str).collect();
            expected.sort_unstable();
            expected == got
        };
        let reasons_match = self.expected.reasons.as_ref().is_none_or(|expected| {
            same(
                expected,
                self.got.reasons.iter().map(String::as_str).collect(),
            )
        });
        // The decision's mask rules are sorted by label already.
        let redact_match = self
            .expected
            .redact
            .as_ref()
            .is_none_or(|expected| same(expected, redact_labels(&self.got.redact).collect()));
        self.expected.effect == self.got.effect && reasons_match && redact_match
    }
}

/// The outcome of a directory's cases. Its `Display` is the pass/fail table that
/// `lucid policy test DIR` prints, ending with `N passed, N failed`.
#[derive(Debug, Clone)]
pub struct TestReport {
    pub policy_hash: String,
    pub results: Vec<CaseResult>,
}

impl TestReport {
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.passed()).count()
    }

    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }
}

impl std::fmt::Display for TestReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let expected = |e: &Expected| {
            let mut s = match &e.reasons {
                Some(reasons) => format!("{} [{}]", e.effect, reasons.join(", ")),
                None => e.effect.to_string(),
            };
            if let Some(redact) = &e.redact {
                let _ = write!(s, " redact [{}]", redact.join(", "));
            }
            s
        };
        let got = |d: &Decision| {
            let mut s = format!("{} [{}]", d.effect, d.reasons.join(", "));
            if !d.redact.is_empty() {
                let labels: Vec<&str> = redact_labels(&d.redact).collect();
                let _ = write!(s, " redact [{}]", labels.join(", "));
            }
            if !d.errors.is_empty() {
                let _ = write!(s, " errors: {}", d.errors.join("; "));
            }
            s
        };
        let rows: Vec<[String; 4]> = self
            .results
            .iter()
            .map(|r| {
                [
                    if r.passed() { "PASS" } else { "FAIL" }.to_string(),
                    r.name.clone(),
                    expected(&r.expected),
                    got(&r.got),
                ]
            })
            .collect();
        let header = ["result", "case", "expected", "got"].map(String::from);
        let mut widths = header.clone().map(|h| h.len());
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for row in std::iter::once(&header).chain(&rows) {
            let line = row
                .iter()
                .zip(widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect::<Vec<_>>()
                .join("  ");
            writeln!(f, "{}", line.trim_end())?;
        }
        write!(f, "{} passed, {} failed", self.passed(), self.failed())
    }
}

/// Load the policies of `dir`, validate them strictly against `schema`, and run the cases of
/// `dir/tests.json` against them.
pub fn run_tests(dir: &Path, schema: &Schema) -> Result<TestReport, PolicyError> {
    let policies = PolicySet::load_dir(dir)?;
    let policy_hash = policies.hash().to_string();
    let engine = Engine::new(schema.clone(), policies).map_err(PolicyError::Invalid)?;
    let path = dir.join(TESTS_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| PolicyError::Io {
        path: path.clone(),
        source,
    })?;
    let file: TestsFile = serde_json::from_str(&text).map_err(|e| PolicyError::Tests {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let results = file
        .cases
        .into_iter()
        .map(|case| {
            let request = DecisionRequest {
                scope: case.scope,
                phase: case.phase,
                model: case.model,
                claims: case
                    .claims
                    .into_iter()
                    .map(|(name, value)| Claim {
                        name,
                        value,
                        confidence: 1.0,
                        metadata: None,
                        spans: Vec::new(),
                    })
                    .collect(),
                coverage: case.coverage,
            };
            CaseResult {
                name: case.name,
                expected: case.expect,
                got: engine.decide(&request),
            }
        })
        .collect();
    Ok(TestReport {
        policy_hash,
        results,
    })
}

fn redact_labels(redact: &[Redact]) -> impl Iterator<Item = &str> {
    redact.iter().map(|r| r.policy.as_str())
}

fn placeholder_scope() -> Scope {
    Scope {
        org: "test-org".into(),
        workspace: "test-workspace".into(),
        agent: "test-agent".into(),
    }
}

fn placeholder_model() -> String {
    "test-model".into()
}
