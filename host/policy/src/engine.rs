//! Decisions: one Cedar authorization per phase over the claims, failing closed.
//!
//! Cedar denies unless a `permit` matches and lets any matching `forbid` win, but it skips a
//! policy whose evaluation errors: an erroring `forbid` would let the request through. Here any
//! error (in building the request or in evaluating any policy) denies, and is listed.
//!
//! Masking: a `forbid` annotated `@redact("CLAIM")` is a mask rule, "deny unless the spans of
//! CLAIM are masked". When the set denies without error and every forbid that determined the
//! deny is a mask rule, the phase is decided again without the mask rules (a second
//! authorization, only on that path): if that allows without error, the decision is an allow
//! that lists the mask rules in `redact`, and the host must mask before anything goes on.
//! Otherwise the second evaluation's deny stands. So a plain forbid always beats a mask rule
//! (the deny then names the plain forbids only), a mask rule never permits by itself, and in
//! the artifact and execution phases, where nothing can be masked, a mask rule that holds
//! denies like any forbid.
//!
//! The context is built from `RestrictedExpression`s with `Context::from_pairs`, and the request
//! without Cedar's schema check (`Request::new(.., None)`), which costs about as much as the
//! authorization itself. Claims stay type-checked: each is checked here against the type the
//! schema was generated with, so the context conforms to the schema by construction (debug
//! builds also run Cedar's check on every decision to prove it).

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

use cedar_policy as cedar;
use serde::{Deserialize, Serialize};

use crate::claims::{Claim, ClaimValue, Coverage, DecisionRequest, Phase, Scope};
use crate::error::Diagnostic;
use crate::policy_set::{PolicySet, validate};
use crate::schema::Schema;

/// The outcome of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Allow,
    Deny,
}

impl std::fmt::Display for Effect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
        })
    }
}

/// A decision: `{"effect":"allow"|"deny","reasons":[…],"errors":[…]}`, plus `"redact":[…]`
/// for an allow that holds only once spans are masked. `reasons` are the policies that
/// determined the effect (the matching permits of an allow, the matching forbids of a deny), by
/// `@id`, sorted; a deny with no reason means no policy permitted, or an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub effect: Effect,
    pub reasons: Vec<String>,
    pub errors: Vec<String>,
    /// The mask rules that held, sorted by policy label: the exchange is allowed only after the
    /// host masks their spans. Always empty on a deny. Left out of the JSON when empty, so a
    /// decision without masking reads as it always did.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redact: Vec<Redact>,
}

/// One mask rule that held: mask the spans the auditors attached to `claim`, of `kinds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redact {
    /// The `@redact` forbid that asks for it, by its label (its `@id`, else `file:line`).
    pub policy: String,
    /// The claim whose spans are masked (`context.claims.CLAIM`).
    pub claim: String,
    /// The kinds of spans to mask, sorted; empty: every kind.
    pub kinds: Vec<String>,
}

impl Decision {
    fn deny_with_errors(errors: Vec<String>) -> Decision {
        Decision {
            effect: Effect::Deny,
            reasons: Vec::new(),
            errors,
            redact: Vec::new(),
        }
    }
}

/// One Cedar authorization, before it becomes a [`Decision`].
struct Evaluation {
    allowed: bool,
    /// The determining policies, by id.
    reasons: Vec<cedar::PolicyId>,
    /// Every evaluation error, sorted.
    errors: Vec<String>,
}

/// A validated schema and policy set, ready to decide. Build a new engine when policies or
/// auditors change and swap it in only if [`Engine::new`] succeeds: an invalid set is never
/// half-applied, the previous engine simply stays in use.
#[derive(Debug)]
pub struct Engine {
    schema: Schema,
    policies: PolicySet,
    authorizer: cedar::Authorizer,
    org: cedar::EntityTypeName,
    workspace: cedar::EntityTypeName,
    agent: cedar::EntityTypeName,
    model: cedar::EntityTypeName,
    actions: [cedar::EntityUid; 4],
    scopes: RwLock<HashMap<Scope, Arc<ScopeEntities>>>,
}

/// How many scopes' entities an engine keeps; past that it starts afresh.
const SCOPE_CACHE_SIZE: usize = 4096;

/// The principal of a scope and the entities of its hierarchy.
#[derive(Debug)]
struct ScopeEntities {
    agent: cedar::EntityUid,
    entities: cedar::Entities,
}

impl Engine {
    /// Validate `policies` strictly against `schema` (see [`validate`]) and build the engine.
    pub fn new(schema: Schema, policies: PolicySet) -> Result<Engine, Vec<Diagnostic>> {
        validate(&policies, &schema)?;
        let name =
            |n: &str| cedar::EntityTypeName::from_str(n).expect("a constant, valid type name");
        let action = |phase: Phase| {
            cedar::EntityUid::from_type_name_and_id(
                name("Action"),
                cedar::EntityId::new(phase.as_str()),
            )
        };
        Ok(Engine {
            schema,
            policies,
            authorizer: cedar::Authorizer::new(),
            org: name("Org"),
            workspace: name("Workspace"),
            agent: name("Agent"),
            model: name("Model"),
            actions: Phase::ALL.map(action),
            scopes: RwLock::default(),
        })
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    pub fn policies(&self) -> &PolicySet {
        &self.policies
    }

    /// Whether some mask rule may ask for masking in `phase` (see [`PolicySet::redacts_in`]):
    /// if not, no decision of that phase ever has a `redact`.
    pub fn redacts_in(&self, phase: Phase) -> bool {
        self.policies.redacts_in(phase)
    }

    /// Decide one phase. Never panics and never fails open: anything that goes wrong is a deny
    /// with the problem in `errors`. An allow with a non-empty `redact` stands only once the
    /// host has masked those spans (see the module documentation).
    pub fn decide(&self, request: &DecisionRequest) -> Decision {
        let prepared = match self.prepare(request) {
            Ok(prepared) => prepared,
            Err(errors) => return Decision::deny_with_errors(errors),
        };
        let (cedar_request, entities) = prepared;
        let mut first = self.evaluate(&self.policies.cedar, &cedar_request, &entities);
        let Some(redact) = self.masks_enough(&first, request.phase) else {
            // A mask rule does not determine a deny that a plain forbid makes anyway: masking
            // would not have helped, so the deny names the plain forbids only.
            if !first.allowed
                && first
                    .reasons
                    .iter()
                    .any(|id| !self.policies.redactions.contains_key(id))
            {
                first
                    .reasons
                    .retain(|id| !self.policies.redactions.contains_key(id));
            }
            return self.decision(first);
        };
        let second = self.evaluate(&self.policies.unmasked, &cedar_request, &entities);
        if !(second.allowed && second.errors.is_empty()) {
            return self.decision(second);
        }
        Decision {
            redact,
            ..self.decision(second)
        }
    }

    fn evaluate(
        &self,
        policies: &cedar::PolicySet,
        request: &cedar::Request,
        entities: &ScopeEntities,
    ) -> Evaluation {
        let response = self
            .authorizer
            .is_authorized(request, policies, &entities.entities);
        let mut errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(|error| match error {
                cedar::AuthorizationError::PolicyEvaluationError(e) => {
                    format!("policy '{}': {}", self.label(e.policy_id()), e.inner())
                }
            })
            .collect();
        errors.sort_unstable();
        Evaluation {
            allowed: response.decision() == cedar::Decision::Allow,
            reasons: response.diagnostics().reason().cloned().collect(),
            errors,
        }
    }

    /// The masking that would turn a deny into an allow: `Some` when `evaluation` denied
    /// without error, in a phase the host can mask, and every forbid that determined the deny
    /// is a mask rule; their requests, sorted by label. Whether the rest of the set then allows
    /// is for a second evaluation to say.
    fn masks_enough(&self, evaluation: &Evaluation, phase: Phase) -> Option<Vec<Redact>> {
        if evaluation.allowed
            || !evaluation.errors.is_empty()
            || evaluation.reasons.is_empty()
            || !matches!(phase, Phase::Request | Phase::Response)
        {
            return None;
        }
        let mut redact = evaluation
            .reasons
            .iter()
            .map(|id| {
                self.policies.redactions.get(id).map(|rule| Redact {
                    policy: self.label(id).to_string(),
                    claim: rule.claim.clone(),
                    kinds: rule.kinds.clone(),
                })
            })
            .collect::<Option<Vec<Redact>>>()?;
        redact.sort_unstable_by(|a, b| a.policy.cmp(&b.policy));
        redact.dedup();
        Some(redact)
    }

    fn decision(&self, evaluation: Evaluation) -> Decision {
        let effect = if evaluation.allowed && evaluation.errors.is_empty() {
            Effect::Allow
        } else {
            Effect::Deny
        };
        // An allow that an error turned into a deny has no determining policy.
        let reasons = if evaluation.allowed && effect == Effect::Deny {
            Vec::new()
        } else {
            let mut reasons: Vec<String> = evaluation
                .reasons
                .iter()
                .map(|id| self.label(id).to_string())
                .collect();
            reasons.sort_unstable();
            reasons.dedup();
            reasons
        };
        Decision {
            effect,
            reasons,
            errors: evaluation.errors,
            redact: Vec::new(),
        }
    }

    fn label<'a>(&'a self, id: &'a cedar::PolicyId) -> &'a str {
        self.policies
            .labels
            .get(id)
            .map_or_else(|| id.as_ref(), String::as_str)
    }

    fn prepare(
        &self,
        request: &DecisionRequest,
    ) -> Result<(cedar::Request, Arc<ScopeEntities>), Vec<String>> {
        let claims = self.claims_record(&request.claims)?;
        let coverage = coverage_record(&request.coverage).map_err(|e| vec![e])?;
        let context = cedar::Context::from_pairs([
            ("claims".to_string(), claims),
            ("coverage".to_string(), coverage),
        ])
        .map_err(|e| vec![format!("cannot build the context: {e}")])?;
        let entities = self.scope_entities(&request.scope)?;
        let principal = entities.agent.clone();
        let action = self.actions[match request.phase {
            Phase::Artifact => 0,
            Phase::Request => 1,
            Phase::Execution => 2,
            Phase::Response => 3,
        }]
        .clone();
        let resource = cedar::EntityUid::from_type_name_and_id(
            self.model.clone(),
            cedar::EntityId::new(&request.model),
        );
        // Debug builds check what the claim checks above guarantee: the context conforms to the schema.
        #[cfg(debug_assertions)]
        cedar::Request::new(
            principal.clone(),
            action.clone(),
            resource.clone(),
            context.clone(),
            Some(&self.schema.cedar),
        )
        .map_err(|e| {
            vec![format!(
                "internal: the context does not conform to the schema: {e}"
            )]
        })?;
        let cedar_request = cedar::Request::new(principal, action, resource, context, None)
            .map_err(|e| vec![format!("cannot build the request: {e}")])?;
        Ok((cedar_request, entities))
    }

    /// `context.claims`: every non-object claim, checked against the schema's declared type.
    fn claims_record(&self, claims: &[Claim]) -> Result<cedar::RestrictedExpression, Vec<String>> {
        let mut errors = Vec::new();
        let mut fields = Vec::with_capacity(claims.len());
        for (i, claim) in claims.iter().enumerate() {
            if matches!(claim.value, ClaimValue::Object(_)) {
                continue;
            }
            if claims[..i].iter().any(|c| c.name == claim.name) {
                errors.push(format!("claim '{}' is given more than once", claim.name));
                continue;
            }
            let given = claim.value.claim_type();
            match self.schema.claim_type(&claim.name) {
                None => errors.push(format!(
                    "claim '{}' is not declared by any loaded auditor",
                    claim.name
                )),
                Some(declared) if declared != given => errors.push(format!(
                    "claim '{}' is {given} but is declared as {declared}",
                    claim.name
                )),
                Some(_) => match claim_expression(&claim.value) {
                    Ok(expr) => fields.push((claim.name.clone(), expr)),
                    Err(e) => errors.push(format!("claim '{}': {e}", claim.name)),
                },
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        cedar::RestrictedExpression::new_record(fields)
            .map_err(|e| vec![format!("cannot build context.claims: {e}")])
    }

    /// The principal `Agent::"…"` and its entities, in `Workspace::"…"`, in `Org::"…"`. They
    /// depend on the scope alone, so they are built once per scope (computing the hierarchy
    /// costs a fifth of an authorization) and kept, up to [`SCOPE_CACHE_SIZE`] scopes.
    fn scope_entities(&self, scope: &Scope) -> Result<Arc<ScopeEntities>, Vec<String>> {
        if let Some(found) = self
            .scopes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(scope)
        {
            return Ok(found.clone());
        }
        let built = Arc::new(self.build_scope_entities(scope)?);
        let mut scopes = self.scopes.write().unwrap_or_else(PoisonError::into_inner);
        if scopes.len() >= SCOPE_CACHE_SIZE {
            scopes.clear();
        }
        scopes.insert(scope.clone(), built.clone());
        Ok(built)
    }

    fn build_scope_entities(&self, scope: &Scope) -> Result<ScopeEntities, Vec<String>> {
        let uid = |ty: &cedar::EntityTypeName, id: &str| {
            cedar::EntityUid::from_type_name_and_id(ty.clone(), cedar::EntityId::new(id))
        };
        let org = uid(&self.org, &scope.org);
        let workspace = uid(&self.workspace, &scope.workspace);
        let agent = uid(&self.agent, &scope.agent);
        let entities = cedar::Entities::from_entities(
            [
                cedar::Entity::new_no_attrs(agent.clone(), HashSet::from([workspace.clone()])),
                cedar::Entity::new_no_attrs(workspace, HashSet::from([org.clone()])),
                cedar::Entity::new_no_attrs(org, HashSet::new()),
            ],
            None,
        )
        .map_err(|e| vec![format!("cannot build the scope entities: {e}")])?;
        Ok(ScopeEntities { agent, entities })
    }
}

fn coverage_record(coverage: &Coverage) -> Result<cedar::RestrictedExpression, String> {
    let set = |ids: &[String]| {
        cedar::RestrictedExpression::new_set(
            ids.iter()
                .map(|id| cedar::RestrictedExpression::new_string(id.clone())),
        )
    };
    cedar::RestrictedExpression::new_record([
        ("ran".to_string(), set(&coverage.ran)),
        ("failed".to_string(), set(&coverage.failed)),
    ])
    .map_err(|e| format!("cannot build context.coverage: {e}"))
}

fn claim_expression(value: &ClaimValue) -> Result<cedar::RestrictedExpression, String> {
    use cedar::RestrictedExpression as E;
    Ok(match value {
        ClaimValue::ScoreNormalized(v) => decimal_expression(*v)?,
        ClaimValue::Boolean(v) => E::new_bool(*v),
        ClaimValue::String(v) => E::new_string(v.clone()),
        ClaimValue::StringList(items) => E::new_set(items.iter().map(|s| E::new_string(s.clone()))),
        ClaimValue::Count(v) | ClaimValue::DurationMs(v) => E::new_long(long(*v)?),
        ClaimValue::Object(_) => return Err("object claims are not exposed to policies".into()),
    })
}

/// Counts and durations are `u64`; Cedar's `Long` is `i64`. A value above `i64::MAX` is an error
/// (so the decision denies) rather than being clamped to a different number.
fn long(v: u64) -> Result<i64, String> {
    i64::try_from(v).map_err(|_| {
        format!(
            "value {v} is larger than the largest cedar long ({})",
            i64::MAX
        )
    })
}

/// The `decimal(…)` expression of a score. `RestrictedExpression::new_decimal` parses the name
/// `decimal` with Cedar's grammar on every call (about ten times the cost of evaluating the
/// decimal itself), so the expressions of scores in 0..=1, at most 10 001 of them once rounded,
/// are built once per process and cloned.
fn decimal_expression(v: f64) -> Result<cedar::RestrictedExpression, String> {
    type Cache = RwLock<HashMap<i64, cedar::RestrictedExpression>>;
    static CACHE: LazyLock<Cache> = LazyLock::new(Cache::default);

    let scaled = score_scaled(v)?;
    if !(0..=10_000).contains(&scaled) {
        return Ok(cedar::RestrictedExpression::new_decimal(decimal_text(
            scaled,
        )));
    }
    if let Some(expr) = CACHE
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&scaled)
    {
        return Ok(expr.clone());
    }
    let expr = cedar::RestrictedExpression::new_decimal(decimal_text(scaled));
    CACHE
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(scaled, expr.clone());
    Ok(expr)
}

/// A score as a Cedar `decimal` literal. Cedar has no floats and its decimals have at most four
/// fractional digits, so the score's shortest decimal representation (what `{}` prints) is
/// rounded to four digits, ties to even: 0.12345 → "0.1234", 0.12355 → "0.1236", 0.7 →
/// "0.7000". Rounding the printed digits rather than `v * 10000.0` keeps ties exact.
pub fn score_to_decimal(v: f64) -> Result<String, String> {
    score_scaled(v).map(decimal_text)
}

/// A score in ten-thousandths, rounded as [`score_to_decimal`] says.
fn score_scaled(v: f64) -> Result<i64, String> {
    if !v.is_finite() {
        return Err(format!("score {v} is not a finite number"));
    }
    let out_of_range = || format!("score {v} is outside cedar's decimal range");
    // Rust's `Display` for f64 never uses exponent notation.
    let text = v.abs().to_string();
    let (int_part, frac_part) = text.split_once('.').unwrap_or((&text, ""));
    let int: u64 = int_part.parse().map_err(|_| out_of_range())?;
    let frac = frac_part.as_bytes();
    let digit = |i: usize| frac.get(i).map_or(0, |d| u64::from(d - b'0'));
    let kept = (0..4).fold(0, |acc, i| acc * 10 + digit(i));
    let rest = frac.get(4..).unwrap_or(&[]);
    let round_up = match rest.split_first() {
        None => false,
        Some((&first, tail)) => {
            first > b'5' || (first == b'5' && (tail.iter().any(|&d| d != b'0') || kept % 2 == 1))
        }
    };
    let scaled = int
        .checked_mul(10_000)
        .and_then(|s| s.checked_add(kept + u64::from(round_up)))
        .filter(|&s| s <= i64::MAX as u64)
        .ok_or_else(out_of_range)?;
    // In range by the filter above.
    let scaled = scaled as i64;
    Ok(if v < 0.0 { -scaled } else { scaled })
}

fn decimal_text(scaled: i64) -> String {
    let sign = if scaled < 0 { "-" } else { "" };
    let abs = scaled.unsigned_abs();
    format!("{sign}{}.{:04}", abs / 10_000, abs % 10_000)
}
