//! `lucid-policy`: the Cedar policy engine that turns auditor claims into allow or deny.
//!
//! One Cedar policy set decides each phase of an exchange. The request model (no namespace):
//! the principal is `Agent::"<agent>"`, in `Workspace::"<workspace>"`, in `Org::"<org>"`; the
//! action is the phase (`Action::"request"`, `"response"`, `"execution"`, `"artifact"`); the
//! resource is `Model::"<model>"`; the context holds `context.claims` (every claim by name:
//! scores as `decimal`, booleans, strings, string lists as `Set<String>`, counts and durations
//! as `Long`; object claims are not exposed) and `context.coverage` (`ran` and `failed`: auditor
//! ids). Org, workspace and agent policies live in one set, so an org `forbid` always wins.
//!
//! - [`Schema`]: generated from the loaded auditors' vocabularies; every claim optional.
//! - [`PolicySet`]: a directory of `*.cedar` files, hashed; [`validate`] checks it strictly.
//! - [`Engine`]: a validated schema + set; [`Engine::decide`] denies on any error, and allows
//!   after masking ([`Decision::redact`]) when only `@redact` forbids stood in the way.
//! - [`overrides`]: org enforcement of auditor settings and the overrides below it.
//! - [`run_tests`]: the `tests.json` cases of a policy directory.
//!
//! This crate does not depend on the host: the host maps its claims and vocabularies onto the
//! small input types of [`claims`].

pub mod claims;
mod engine;
mod error;
pub mod overrides;
mod policy_set;
mod policy_tests;
mod schema;
mod shipped;

pub use claims::{
    AuditorVocabulary, Claim, ClaimType, ClaimValue, Coverage, DecisionRequest, Phase, Scope,
};
pub use engine::{Decision, Effect, Engine, Redact, score_to_decimal};
pub use error::{Diagnostic, PolicyError};
pub use overrides::{
    Bundle, Enforcement, EnforcementMode, OverrideError, ScopeSettings, Violation, check_override,
    effective_settings,
};
pub use policy_set::{LoadedPolicies, PolicySet, validate};
pub use policy_tests::{CaseResult, Expected, TESTS_FILE, TestReport, run_tests};
pub use schema::{Schema, schema_text};
pub use shipped::{shipped_setting_defaults, shipped_vocabularies};
