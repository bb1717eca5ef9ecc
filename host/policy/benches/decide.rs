//! Decision latency with 20 policies and 15 claims (target: under 50 µs p50), next to what
//! Cedar's `is_authorized` alone costs on the same policies and request, so the overhead of
//! building the request is visible as a ratio. Medians are in
//! `target/criterion/<group>/<bench>/new/estimates.json` (`median.point_estimate`, ns).

use std::collections::HashSet;
use std::hint::black_box;
use std::str::FromStr;

use cedar_policy as cedar;
use criterion::{Criterion, criterion_group, criterion_main};
use lucid_policy::{
    AuditorVocabulary, Claim, ClaimType, ClaimValue, Coverage, DecisionRequest, Effect, Engine,
    Phase, PolicySet, Schema, Scope, score_to_decimal, shipped_vocabularies,
};

/// 20 policies: a permit, the balanced forbids, and forbids/permits over every claim type at
/// org, workspace and agent scope.
const POLICIES: &str = r#"
@id("permit") permit (principal, action, resource);
@id("card") forbid (principal, action, resource) when { context.claims has pii_entities && context.claims.pii_entities.contains("credit_card") };
@id("injection") forbid (principal, action, resource) when { (context.claims has injection_detected && context.claims.injection_detected) || (context.claims has injection_risk && context.claims.injection_risk.greaterThanOrEqual(decimal("0.9"))) };
@id("failed") forbid (principal, action, resource) unless { context.coverage.failed.isEmpty() };
@id("budget") forbid (principal, action == Action::"request", resource) when { context.claims has over_budget && context.claims.over_budget };
@id("tokens") forbid (principal in Org::"acme", action, resource) when { context.claims has estimated_tokens && context.claims.estimated_tokens > 100000 };
@id("pii-count") forbid (principal in Workspace::"research", action, resource) when { context.claims has pii_count && context.claims.pii_count > 10 };
@id("toxicity") forbid (principal, action, resource) when { context.claims has toxicity && context.claims.toxicity.greaterThan(decimal("0.8")) };
@id("bias") forbid (principal in Org::"acme", action, resource) when { context.claims has bias && context.claims.bias.greaterThan(decimal("0.85")) };
@id("secrets") forbid (principal, action, resource) when { context.claims has secrets_found && context.claims.secrets_found };
@id("lang") forbid (principal, action, resource) when { context.claims has language && context.claims.language == "xx" };
@id("topics") forbid (principal, action, resource) when { context.claims has topics && context.claims.topics.containsAny(["weapons", "malware"]) };
@id("latency") forbid (principal, action, resource) when { context.claims has scan_ms && context.claims.scan_ms > 5000 };
@id("urls") forbid (principal, action, resource) when { context.claims has url_count && context.claims.url_count > 50 };
@id("relevance") forbid (principal == Agent::"triage", action, resource) when { context.claims has relevance && context.claims.relevance.lessThan(decimal("0.05")) };
@id("jailbreak") forbid (principal, action, resource) when { context.claims has jailbreak && context.claims.jailbreak };
@id("model") forbid (principal in Workspace::"sandbox", action, resource == Model::"gpt-5");
@id("coverage") forbid (principal in Org::"acme", action == Action::"request", resource) unless { context.coverage.ran.containsAll(["pii", "injection"]) };
@id("agent-permit") permit (principal == Agent::"triage", action, resource) when { context.claims has pii_count && context.claims.pii_count < 5 };
@id("ws-permit") permit (principal in Workspace::"research", action == Action::"request", resource) when { context.coverage.ran.contains("pii") };
"#;

fn schema() -> Schema {
    let mut vocabularies = shipped_vocabularies();
    vocabularies.push(AuditorVocabulary::new(
        "extra",
        [
            ("toxicity", ClaimType::ScoreNormalized),
            ("bias", ClaimType::ScoreNormalized),
            ("relevance", ClaimType::ScoreNormalized),
            ("secrets_found", ClaimType::Boolean),
            ("jailbreak", ClaimType::Boolean),
            ("language", ClaimType::String),
            ("topics", ClaimType::StringList),
            ("scan_ms", ClaimType::DurationMs),
            ("url_count", ClaimType::Count),
        ],
    ));
    Schema::from_vocabularies(&vocabularies).unwrap()
}

/// 15 claims (plus one object claim, which is skipped), nothing denied.
fn request() -> DecisionRequest {
    let claims = vec![
        ("pii_detected", ClaimValue::Boolean(true)),
        ("pii_entities", ClaimValue::StringList(vec!["email".into()])),
        ("pii_count", ClaimValue::Count(1)),
        ("injection_risk", ClaimValue::ScoreNormalized(0.12345)),
        ("injection_detected", ClaimValue::Boolean(false)),
        ("estimated_tokens", ClaimValue::Count(812)),
        ("over_budget", ClaimValue::Boolean(false)),
        ("toxicity", ClaimValue::ScoreNormalized(0.02)),
        ("bias", ClaimValue::ScoreNormalized(0.31)),
        ("relevance", ClaimValue::ScoreNormalized(0.77)),
        ("secrets_found", ClaimValue::Boolean(false)),
        ("jailbreak", ClaimValue::Boolean(false)),
        ("language", ClaimValue::String("en".into())),
        (
            "topics",
            ClaimValue::StringList(vec!["billing".into(), "support".into()]),
        ),
        ("scan_ms", ClaimValue::DurationMs(3)),
        (
            "lucid.auditor_error",
            ClaimValue::Object(serde_json::json!({})),
        ),
    ];
    DecisionRequest {
        scope: Scope {
            org: "acme".into(),
            workspace: "research".into(),
            agent: "triage".into(),
        },
        phase: Phase::Request,
        model: "gpt-4o-mini".into(),
        claims: claims.into_iter().map(|(n, v)| Claim::new(n, v)).collect(),
        coverage: Coverage {
            ran: vec![
                "pii".into(),
                "injection".into(),
                "token_budget".into(),
                "extra".into(),
            ],
            failed: vec![],
        },
    }
}

/// The same request built directly with Cedar's API: the context from `RestrictedExpression`s
/// (what the engine builds), the scope entities, and the request.
fn cedar_parts(
    request: &DecisionRequest,
    schema: Option<&cedar::Schema>,
) -> (cedar::Request, cedar::Entities) {
    let context = context(request);
    let (agent, entities) = scope_entities(request);
    let request = cedar::Request::new(
        agent,
        uid("Action", "request"),
        uid("Model", &request.model),
        context,
        schema,
    )
    .unwrap();
    (request, entities)
}

fn uid(t: &str, id: &str) -> cedar::EntityUid {
    cedar::EntityUid::from_type_name_and_id(
        cedar::EntityTypeName::from_str(t).unwrap(),
        cedar::EntityId::new(id),
    )
}

fn decimal(v: f64) -> cedar::RestrictedExpression {
    thread_local! {
        static MEMO: std::cell::RefCell<std::collections::HashMap<String, cedar::RestrictedExpression>> =
            Default::default();
    }
    let text = score_to_decimal(v).unwrap();
    MEMO.with_borrow_mut(|memo| {
        memo.entry(text.clone())
            .or_insert_with(|| cedar::RestrictedExpression::new_decimal(text))
            .clone()
    })
}

fn context(request: &DecisionRequest) -> cedar::Context {
    use cedar::RestrictedExpression as E;
    let fields = request.claims.iter().filter_map(|c| {
        let e = match &c.value {
            // Memoised, as the engine does: `new_decimal` itself costs more than the rest.
            ClaimValue::ScoreNormalized(v) => decimal(*v),
            ClaimValue::Boolean(v) => E::new_bool(*v),
            ClaimValue::String(v) => E::new_string(v.clone()),
            ClaimValue::StringList(v) => E::new_set(v.iter().map(|s| E::new_string(s.clone()))),
            ClaimValue::Count(v) | ClaimValue::DurationMs(v) => E::new_long(*v as i64),
            ClaimValue::Object(_) => return None,
        };
        Some((c.name.clone(), e))
    });
    let set = |ids: &[String]| E::new_set(ids.iter().map(|s| E::new_string(s.clone())));
    cedar::Context::from_pairs([
        ("claims".to_string(), E::new_record(fields).unwrap()),
        (
            "coverage".to_string(),
            E::new_record([
                ("ran".to_string(), set(&request.coverage.ran)),
                ("failed".to_string(), set(&request.coverage.failed)),
            ])
            .unwrap(),
        ),
    ])
    .unwrap()
}

fn scope_entities(request: &DecisionRequest) -> (cedar::EntityUid, cedar::Entities) {
    let org = uid("Org", &request.scope.org);
    let workspace = uid("Workspace", &request.scope.workspace);
    let agent = uid("Agent", &request.scope.agent);
    let entities = cedar::Entities::from_entities(
        [
            cedar::Entity::new_no_attrs(agent.clone(), HashSet::from([workspace.clone()])),
            cedar::Entity::new_no_attrs(workspace, HashSet::from([org.clone()])),
            cedar::Entity::new_no_attrs(org, HashSet::new()),
        ],
        None,
    )
    .unwrap();
    (agent, entities)
}

fn bench(c: &mut Criterion) {
    let schema = schema();
    let set = PolicySet::from_sources([("bench.cedar".to_string(), POLICIES.to_string())]).unwrap();
    assert_eq!(set.len(), 20);
    let engine = Engine::new(schema.clone(), set).unwrap_or_else(|d| panic!("{d:#?}"));
    let request = request();
    assert_eq!(request.claims.len(), 16);
    let decision = engine.decide(&request);
    assert_eq!(decision.effect, Effect::Allow, "{decision:?}");
    assert!(decision.errors.is_empty());

    let cedar_set = cedar::PolicySet::from_str(POLICIES).unwrap();
    let cedar_schema = cedar::Schema::from_cedarschema_str(schema.text())
        .unwrap()
        .0;
    let (cedar_request, entities) = cedar_parts(&request, None);
    let authorizer = cedar::Authorizer::new();
    assert_eq!(
        authorizer
            .is_authorized(&cedar_request, &cedar_set, &entities)
            .decision(),
        cedar::Decision::Allow
    );

    let mut group = c.benchmark_group("decide");
    group.bench_function("engine_decide", |b| {
        b.iter(|| engine.decide(black_box(&request)))
    });
    group.bench_function("cedar_is_authorized_alone", |b| {
        b.iter(|| authorizer.is_authorized(black_box(&cedar_request), &cedar_set, &entities))
    });
    group.bench_function("build_request_without_schema", |b| {
        b.iter(|| cedar_parts(black_box(&request), None))
    });
    group.bench_function("build_request_with_schema", |b| {
        b.iter(|| cedar_parts(black_box(&request), Some(&cedar_schema)))
    });
    group.bench_function("build_context", |b| b.iter(|| context(black_box(&request))));
    group.bench_function("build_entities", |b| {
        b.iter(|| scope_entities(black_box(&request)))
    });
    group.bench_function("score_to_decimal", |b| {
        b.iter(|| score_to_decimal(black_box(0.12345)))
    });
    group.bench_function("new_decimal_unmemoised", |b| {
        b.iter(|| cedar::RestrictedExpression::new_decimal(black_box("0.1234")))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
