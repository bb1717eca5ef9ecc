//! Mask rules: `@redact` forbids, their validation and the decisions they make.

use lucid_policy::{
    ClaimValue, Decision, Diagnostic, Effect, Engine, Phase, PolicyError, PolicySet, Redact,
    validate,
};

use crate::util::{engine, request, shipped_schema};

const PERMIT: &str = "@id(\"permit\")\npermit (principal, action, resource);\n";

/// Mask e-mail addresses and phone numbers in requests and answers; deny card numbers.
const MASK_AND_DENY: &str = "\
@id(\"deny-card\")
forbid (principal, action, resource)
when { context.claims has pii_entities && context.claims.pii_entities.contains(\"credit_card\") };

@id(\"mask-contact\")
@redact(\"pii_entities\")
@redact_kinds(\"phone, email\")
forbid (principal, action in [Action::\"request\", Action::\"response\"], resource)
when {
  context.claims has pii_entities &&
  context.claims.pii_entities.containsAny([\"email\", \"phone\"])
};
";

fn entities(kinds: &[&str]) -> Vec<(&'static str, ClaimValue)> {
    vec![(
        "pii_entities",
        ClaimValue::StringList(kinds.iter().map(|k| k.to_string()).collect()),
    )]
}

fn mask(policy: &str, claim: &str, kinds: &[&str]) -> Redact {
    Redact {
        policy: policy.into(),
        claim: claim.into(),
        kinds: kinds.iter().map(|k| k.to_string()).collect(),
    }
}

fn mask_engine() -> Engine {
    engine(
        shipped_schema(),
        &[("a.cedar", PERMIT), ("b.cedar", MASK_AND_DENY)],
    )
}

#[test]
fn a_mask_rule_alone_allows_after_masking() {
    let engine = mask_engine();
    for phase in [Phase::Request, Phase::Response] {
        let d = engine.decide(&request(phase, entities(&["email"])));
        assert_eq!(
            d,
            Decision {
                effect: Effect::Allow,
                reasons: vec!["permit".into()],
                errors: vec![],
                redact: vec![mask("mask-contact", "pii_entities", &["email", "phone"])],
            },
            "{phase}"
        );
    }
}

#[test]
fn a_deny_beats_a_mask() {
    let d = mask_engine().decide(&request(
        Phase::Request,
        entities(&["credit_card", "email"]),
    ));
    assert_eq!(
        d,
        Decision {
            effect: Effect::Deny,
            reasons: vec!["deny-card".into()],
            errors: vec![],
            redact: vec![],
        }
    );
}

#[test]
fn a_clean_exchange_is_allowed_without_masking() {
    let engine = mask_engine();
    for claims in [entities(&[]), entities(&["ip_address"]), vec![]] {
        let d = engine.decide(&request(Phase::Request, claims));
        assert_eq!(d.effect, Effect::Allow, "{d:?}");
        assert!(d.redact.is_empty(), "{d:?}");
    }
}

#[test]
fn every_mask_rule_that_holds_is_listed_by_label() {
    let engine = engine(
        shipped_schema(),
        &[
            ("a.cedar", PERMIT),
            ("b.cedar", MASK_AND_DENY),
            (
                "c.cedar",
                "@redact(\"pii_entities\")\nforbid (principal, action == Action::\"request\", resource)\n\
                 when { context.claims has pii_count && context.claims.pii_count > 0 };",
            ),
        ],
    );
    let mut r = request(Phase::Request, entities(&["phone"]));
    r.claims
        .extend(request(Phase::Request, vec![("pii_count", ClaimValue::Count(1))]).claims);
    let d = engine.decide(&r);
    assert_eq!(d.effect, Effect::Allow, "{d:?}");
    // Sorted by label: "c.cedar:1" (no @id) before "mask-contact".
    assert_eq!(
        d.redact,
        [
            mask("c.cedar:1", "pii_entities", &[]),
            mask("mask-contact", "pii_entities", &["email", "phone"]),
        ]
    );
}

#[test]
fn a_mask_rule_without_a_permit_denies() {
    let engine = engine(
        shipped_schema(),
        &[
            (
                "a.cedar",
                "@id(\"permit-response\")\npermit (principal, action == Action::\"response\", resource);",
            ),
            ("b.cedar", MASK_AND_DENY),
        ],
    );
    let d = engine.decide(&request(Phase::Request, entities(&["email"])));
    assert_eq!(
        d,
        Decision {
            effect: Effect::Deny,
            reasons: vec![],
            errors: vec![],
            redact: vec![],
        }
    );
    let answer = engine.decide(&request(Phase::Response, entities(&["email"])));
    assert_eq!(answer.effect, Effect::Allow, "{answer:?}");
    assert_eq!(answer.reasons, ["permit-response"]);
}

/// An evaluation error anywhere denies, even when the only forbid that held asks for masking.
#[test]
fn an_error_in_a_mask_rule_denies() {
    let engine = engine(
        shipped_schema(),
        &[
            ("a.cedar", PERMIT),
            ("b.cedar", MASK_AND_DENY),
            (
                "c.cedar",
                "@id(\"mask-many\")\n@redact(\"pii_entities\")\n\
                 forbid (principal, action, resource)\n\
                 when { context.claims has pii_count && context.claims.pii_count + 1 > 3 };",
            ),
        ],
    );
    let mut r = request(Phase::Request, entities(&["email"]));
    r.claims.extend(
        request(
            Phase::Request,
            vec![("pii_count", ClaimValue::Count(i64::MAX as u64))],
        )
        .claims,
    );
    let d = engine.decide(&r);
    assert_eq!(d.effect, Effect::Deny, "{d:?}");
    assert!(d.redact.is_empty(), "{d:?}");
    assert_eq!(d.errors.len(), 1, "{d:?}");
    assert!(d.errors[0].starts_with("policy 'mask-many': "), "{d:?}");
}

/// In the execution phase nothing can be masked: a mask rule whose scope includes it (here by
/// `action`, any phase) denies there like any forbid.
#[test]
fn a_mask_rule_denies_where_nothing_can_be_masked() {
    let engine = engine(
        shipped_schema(),
        &[
            ("a.cedar", PERMIT),
            (
                "b.cedar",
                "@id(\"mask-all\")\n@redact(\"pii_entities\")\nforbid (principal, action, resource)\n\
                 when { context.claims has pii_entities && !context.claims.pii_entities.isEmpty() };",
            ),
        ],
    );
    let d = engine.decide(&request(Phase::Execution, entities(&["email"])));
    assert_eq!(
        (d.effect, d.reasons.as_slice(), d.redact.is_empty()),
        (Effect::Deny, ["mask-all".to_string()].as_slice(), true),
        "{d:?}"
    );
    let d = engine.decide(&request(Phase::Request, entities(&["email"])));
    assert_eq!(d.redact, [mask("mask-all", "pii_entities", &[])]);
}

#[test]
fn redacts_in_follows_the_action_scopes() {
    let only_response = engine(
        shipped_schema(),
        &[
            ("a.cedar", PERMIT),
            (
                "b.cedar",
                "@redact(\"pii_entities\")\nforbid (principal, action == Action::\"response\", resource)\n\
                 when { context.claims has pii_count && context.claims.pii_count > 0 };",
            ),
        ],
    );
    let phases = |engine: &Engine| Phase::ALL.map(|p| engine.redacts_in(p));
    // artifact, request, execution, response
    assert_eq!(phases(&only_response), [false, false, false, true]);
    assert_eq!(phases(&mask_engine()), [false, true, false, true]);
    let any = engine(
        shipped_schema(),
        &[(
            "a.cedar",
            "@redact(\"pii_count\")\nforbid (principal, action, resource) when { true };\n\
             permit (principal, action, resource);",
        )],
    );
    // Masking only ever happens in the request and response phases.
    assert_eq!(phases(&any), [false, true, false, true]);
    let none = engine(shipped_schema(), &[("a.cedar", PERMIT)]);
    assert_eq!(phases(&none), [false; 4]);
    assert!(only_response.policies().redacts_in(Phase::Response));
}

#[test]
fn a_decision_without_masking_serializes_as_before() {
    let d = mask_engine().decide(&request(Phase::Request, vec![]));
    assert_eq!(
        serde_json::to_string(&d).unwrap(),
        r#"{"effect":"allow","reasons":["permit"],"errors":[]}"#
    );
    let masked = mask_engine().decide(&request(Phase::Request, entities(&["phone"])));
    assert_eq!(
        serde_json::to_value(&masked).unwrap(),
        serde_json::json!({
            "effect": "allow",
            "reasons": ["permit"],
            "errors": [],
            "redact": [{"policy": "mask-contact", "claim": "pii_entities", "kinds": ["email", "phone"]}]
        })
    );
    let back: Decision = serde_json::from_value(serde_json::to_value(&masked).unwrap()).unwrap();
    assert_eq!(back, masked);
}

fn diagnostics(text: &str) -> Vec<Diagnostic> {
    let files = [
        ("a.cedar".to_string(), PERMIT.to_string()),
        ("b.cedar".to_string(), text.to_string()),
    ];
    match PolicySet::from_sources(files) {
        Err(PolicyError::Invalid(d)) => d,
        Err(e) => panic!("unexpected error {e}"),
        Ok(set) => validate(&set, &shipped_schema()).unwrap_err(),
    }
}

fn assert_one(text: &str, line: usize, needle: &str) {
    let d = diagnostics(text);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!((d[0].file.as_str(), d[0].line), ("b.cedar", line), "{d:?}");
    assert!(d[0].message.contains(needle), "{}", d[0]);
}

#[test]
fn redact_on_a_permit_is_rejected() {
    assert_one(
        "// masking\n@redact(\"pii_entities\")\npermit (principal, action, resource);",
        2,
        "@redact belongs on a forbid",
    );
}

#[test]
fn redact_must_name_a_known_claim() {
    assert_one(
        "@redact(\"pii_entites\")\nforbid (principal, action, resource) when { true };",
        1,
        "@redact(\"pii_entites\") names a claim that no loaded auditor declares",
    );
    assert_one(
        "@redact\nforbid (principal, action, resource) when { true };",
        1,
        "@redact needs a claim name",
    );
}

#[test]
fn redact_kinds_needs_redact() {
    assert_one(
        "@redact_kinds(\"email\")\nforbid (principal, action, resource) when { true };",
        1,
        "@redact_kinds without @redact",
    );
}

#[test]
fn redact_kinds_must_be_kind_names() {
    assert_one(
        "@redact(\"pii_entities\")\n@redact_kinds(\"email; Phone\")\n\
         forbid (principal, action, resource) when { true };",
        1,
        "'Phone', 'email;'",
    );
    assert_one(
        "@redact(\"pii_entities\")\n@redact_kinds(\" , \")\n\
         forbid (principal, action, resource) when { true };",
        1,
        "@redact_kinds lists no kind",
    );
    // Commas, spaces, repeats: all fine.
    let engine = engine(
        shipped_schema(),
        &[(
            "a.cedar",
            "@id(\"m\")\n@redact(\"pii_entities\")\n@redact_kinds(\"phone,email  email,\n us_ssn\")\n\
             forbid (principal, action, resource) when { true };\npermit (principal, action, resource);",
        )],
    );
    let d = engine.decide(&request(Phase::Request, vec![]));
    assert_eq!(
        d.redact,
        [mask("m", "pii_entities", &["email", "phone", "us_ssn"])]
    );
}

#[test]
fn a_mask_rule_must_reach_the_request_or_response_phase() {
    for scope in [
        "action == Action::\"execution\"",
        "action in [Action::\"artifact\", Action::\"execution\"]",
    ] {
        assert_one(
            &format!(
                "@redact(\"pii_entities\")\nforbid (principal, {scope}, resource) when {{ true }};"
            ),
            1,
            "masking applies to the request and response phases",
        );
    }
}
