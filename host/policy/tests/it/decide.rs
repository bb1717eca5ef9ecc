use lucid_policy::{ClaimValue, Decision, Effect, Phase, score_to_decimal};

use crate::util::{engine, request, scope, shipped_schema, test_schema};

fn decision(effect: Effect, reasons: &[&str]) -> Decision {
    Decision {
        effect,
        reasons: reasons.iter().map(|r| r.to_string()).collect(),
        errors: vec![],
        redact: vec![],
    }
}

#[test]
fn nothing_permitted_is_denied() {
    let engine = engine(
        shipped_schema(),
        &[(
            "p.cedar",
            "forbid (principal, action, resource) when { context.claims has pii_count };",
        )],
    );
    assert_eq!(
        engine.decide(&request(Phase::Request, vec![])),
        decision(Effect::Deny, &[])
    );
}

#[test]
fn an_org_forbid_beats_an_agent_permit() {
    let engine = engine(
        shipped_schema(),
        &[
            (
                "org.cedar",
                "@id(\"acme.no-cards\")\nforbid (principal in Org::\"acme\", action, resource)\n\
                 when { context.claims has pii_entities && context.claims.pii_entities.contains(\"credit_card\") };",
            ),
            (
                "agent.cedar",
                "@id(\"triage.anything\")\npermit (principal == Agent::\"triage\", action, resource);",
            ),
        ],
    );
    let card = || {
        vec![(
            "pii_entities",
            ClaimValue::StringList(vec!["credit_card".into()]),
        )]
    };
    assert_eq!(
        engine.decide(&request(Phase::Request, card())),
        decision(Effect::Deny, &["acme.no-cards"])
    );
    // The agent permit does apply otherwise…
    assert_eq!(
        engine.decide(&request(Phase::Request, vec![])),
        decision(Effect::Allow, &["triage.anything"])
    );
    // …and the org forbid does not reach another org.
    let mut other = request(Phase::Request, card());
    other.scope = scope("globex", "research", "triage");
    assert_eq!(
        engine.decide(&other),
        decision(Effect::Allow, &["triage.anything"])
    );
}

#[test]
fn workspace_policies_apply_to_the_workspace_agents() {
    let engine = engine(
        shipped_schema(),
        &[(
            "ws.cedar",
            "@id(\"research\")\npermit (principal in Workspace::\"research\", action == Action::\"request\", resource == Model::\"gpt-4o-mini\");",
        )],
    );
    let allowed = request(Phase::Request, vec![]);
    assert_eq!(engine.decide(&allowed).effect, Effect::Allow);
    let mut other_workspace = allowed.clone();
    other_workspace.scope.workspace = "sales".into();
    assert_eq!(engine.decide(&other_workspace).effect, Effect::Deny);
    let mut other_model = allowed.clone();
    other_model.model = "gpt-5".into();
    assert_eq!(engine.decide(&other_model).effect, Effect::Deny);
    let response = request(Phase::Response, vec![]);
    assert_eq!(engine.decide(&response).effect, Effect::Deny);
}

/// Cedar skips a policy whose evaluation errors, so this forbid (valid under strict validation:
/// the overflow only happens at run time) would let the request through. It must deny.
#[test]
fn an_erroring_forbid_denies_with_the_error_recorded() {
    let engine = engine(
        shipped_schema(),
        &[(
            "p.cedar",
            "@id(\"permit-all\")\npermit (principal, action, resource);\n\
             @id(\"too-many-tokens\")\nforbid (principal, action, resource)\n\
             when { context.claims has estimated_tokens && context.claims.estimated_tokens + 1 > 4097 };",
        )],
    );
    let ok = engine.decide(&request(
        Phase::Request,
        vec![("estimated_tokens", ClaimValue::Count(10))],
    ));
    assert_eq!(ok, decision(Effect::Allow, &["permit-all"]));

    let overflow = engine.decide(&request(
        Phase::Request,
        vec![("estimated_tokens", ClaimValue::Count(i64::MAX as u64))],
    ));
    assert_eq!(overflow.effect, Effect::Deny);
    assert!(overflow.reasons.is_empty(), "{overflow:?}");
    assert_eq!(overflow.errors.len(), 1, "{overflow:?}");
    assert!(
        overflow.errors[0].starts_with("policy 'too-many-tokens': ")
            && overflow.errors[0].contains("overflow"),
        "{overflow:?}"
    );
}

#[test]
fn an_erroring_permit_denies_even_when_another_permit_matches() {
    let engine = engine(
        shipped_schema(),
        &[(
            "p.cedar",
            "@id(\"a\")\npermit (principal, action, resource);\n\
             @id(\"b\")\npermit (principal, action, resource) when { context.claims has pii_count && context.claims.pii_count * 2 > 0 };",
        )],
    );
    let d = engine.decide(&request(
        Phase::Request,
        vec![("pii_count", ClaimValue::Count(i64::MAX as u64))],
    ));
    assert_eq!(d.effect, Effect::Deny);
    assert!(d.errors[0].starts_with("policy 'b': "), "{d:?}");
}

#[test]
fn a_count_above_i64_max_denies() {
    let engine = engine(
        shipped_schema(),
        &[("p.cedar", "permit (principal, action, resource);")],
    );
    let d = engine.decide(&request(
        Phase::Request,
        vec![("pii_count", ClaimValue::Count(u64::MAX))],
    ));
    assert_eq!(d.effect, Effect::Deny);
    assert_eq!(
        d.errors,
        [
            "claim 'pii_count': value 18446744073709551615 is larger than the largest cedar long (9223372036854775807)"
        ]
    );
    let at_max = engine.decide(&request(
        Phase::Request,
        vec![("pii_count", ClaimValue::Count(i64::MAX as u64))],
    ));
    assert_eq!(at_max.effect, Effect::Allow, "{at_max:?}");
}

#[test]
fn scores_round_to_four_digits_ties_to_even() {
    for (score, text) in [
        (0.12345, "0.1234"),
        (0.12355, "0.1236"),
        (0.123451, "0.1235"),
        (0.12344999, "0.1234"),
        (0.7, "0.7000"),
        (0.0, "0.0000"),
        (1.0, "1.0000"),
        (0.99995, "1.0000"),
        (0.00005, "0.0000"),
        (0.00015, "0.0002"),
        (1e-7, "0.0000"),
        (-0.25, "-0.2500"),
        (-0.00001, "0.0000"),
        (922337203685477.5, "922337203685477.5000"),
    ] {
        assert_eq!(score_to_decimal(score).as_deref(), Ok(text), "{score}");
    }
    for bad in [f64::NAN, f64::INFINITY, 1e300, 922337203685478.0] {
        assert!(score_to_decimal(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_score_reaches_policies_as_its_rounded_decimal() {
    let engine = engine(
        shipped_schema(),
        &[(
            "p.cedar",
            "@id(\"exact\")\npermit (principal, action, resource)\n\
             when { context.claims has injection_risk && context.claims.injection_risk == decimal(\"0.1234\") };",
        )],
    );
    let score = |v| {
        request(
            Phase::Request,
            vec![("injection_risk", ClaimValue::ScoreNormalized(v))],
        )
    };
    assert_eq!(engine.decide(&score(0.12345)).effect, Effect::Allow);
    assert_eq!(engine.decide(&score(0.1234)).effect, Effect::Allow);
    assert_eq!(engine.decide(&score(0.1235)).effect, Effect::Deny);
    let nan = engine.decide(&score(f64::NAN));
    assert_eq!(nan.effect, Effect::Deny);
    assert_eq!(
        nan.errors,
        ["claim 'injection_risk': score NaN is not a finite number"]
    );
}

#[test]
fn claims_are_type_checked_against_the_schema() {
    let engine = engine(
        shipped_schema(),
        &[("p.cedar", "permit (principal, action, resource);")],
    );
    let cases = [
        (
            vec![("pii_count", ClaimValue::Boolean(true))],
            "claim 'pii_count' is boolean but is declared as count",
        ),
        (
            vec![("made_up", ClaimValue::Count(1))],
            "claim 'made_up' is not declared by any loaded auditor",
        ),
        (
            vec![
                ("pii_count", ClaimValue::Count(1)),
                ("pii_count", ClaimValue::Count(2)),
            ],
            "claim 'pii_count' is given more than once",
        ),
    ];
    for (claims, error) in cases {
        let d = engine.decide(&request(Phase::Request, claims));
        assert_eq!(d.effect, Effect::Deny);
        assert_eq!(d.errors, [error]);
    }
}

#[test]
fn object_claims_are_skipped() {
    let engine = engine(
        shipped_schema(),
        &[("p.cedar", "permit (principal, action, resource);")],
    );
    let d = engine.decide(&request(
        Phase::Request,
        vec![
            (
                "lucid.auditor_error",
                ClaimValue::Object(serde_json::json!({"auditor": "pii"})),
            ),
            ("pii_detected", ClaimValue::Boolean(false)),
        ],
    ));
    assert_eq!(d.effect, Effect::Allow, "{d:?}");
}

#[test]
fn every_claim_type_reaches_policies() {
    let engine = engine(
        test_schema(),
        &[(
            "p.cedar",
            r#"@id("all")
permit (principal, action == Action::"execution", resource)
when {
  context.claims has injection_risk && context.claims.injection_risk.greaterThan(decimal("0.5")) &&
  context.claims has pii_detected && context.claims.pii_detected &&
  context.claims has verdict && context.claims.verdict == "ok" &&
  context.claims has pii_entities && context.claims.pii_entities.containsAll(["email", "phone"]) &&
  context.claims has pii_count && context.claims.pii_count == 2 &&
  context.claims has "latency.p50" && context.claims["latency.p50"] > 100 &&
  context.claims has "if" && context.claims["if"] &&
  context.coverage.ran.contains("odd") && context.coverage.failed.contains("pii")
};"#,
        )],
    );
    let mut r = request(
        Phase::Execution,
        vec![
            ("injection_risk", ClaimValue::ScoreNormalized(0.51)),
            ("pii_detected", ClaimValue::Boolean(true)),
            ("verdict", ClaimValue::String("ok".into())),
            (
                "pii_entities",
                ClaimValue::StringList(vec!["phone".into(), "email".into()]),
            ),
            ("pii_count", ClaimValue::Count(2)),
            ("latency.p50", ClaimValue::DurationMs(250)),
            ("if", ClaimValue::Boolean(true)),
            ("details", ClaimValue::Object(serde_json::json!([1, 2]))),
        ],
    );
    r.coverage.ran.push("odd".into());
    r.coverage.failed.push("pii".into());
    assert_eq!(engine.decide(&r), decision(Effect::Allow, &["all"]));
    r.coverage.failed.clear();
    assert_eq!(engine.decide(&r).effect, Effect::Deny);
}

#[test]
fn reasons_fall_back_to_the_policy_id_and_are_sorted() {
    let engine = engine(
        shipped_schema(),
        &[
            (
                "b.cedar",
                "forbid (principal, action, resource) when { context.claims has pii_count };",
            ),
            (
                "a.cedar",
                "@id(\"z-last\")\nforbid (principal, action, resource) when { context.claims has pii_count };\npermit (principal, action, resource);",
            ),
        ],
    );
    let d = engine.decide(&request(
        Phase::Request,
        vec![("pii_count", ClaimValue::Count(0))],
    ));
    assert_eq!(d, decision(Effect::Deny, &["b.cedar:1", "z-last"]));
    assert_eq!(
        engine.decide(&request(Phase::Request, vec![])),
        decision(Effect::Allow, &["a.cedar:3"])
    );
}

#[test]
fn decisions_serialize_to_the_public_shape() {
    let d = Decision {
        effect: Effect::Deny,
        reasons: vec!["balanced.deny-credit-card".into()],
        errors: vec![],
        redact: vec![],
    };
    assert_eq!(
        serde_json::to_string(&d).unwrap(),
        r#"{"effect":"deny","reasons":["balanced.deny-credit-card"],"errors":[]}"#
    );
    let allow: Decision =
        serde_json::from_str(r#"{"effect":"allow","reasons":[],"errors":[]}"#).unwrap();
    assert_eq!(allow.effect, Effect::Allow);
}

#[test]
fn odd_entity_ids_are_just_ids() {
    let engine = engine(
        shipped_schema(),
        &[(
            "p.cedar",
            "permit (principal in Org::\"a\\\"b\", action, resource);",
        )],
    );
    let mut r = request(Phase::Artifact, vec![]);
    r.scope = scope("a\"b", "", "\u{0}");
    r.model = "::\"".into();
    assert_eq!(engine.decide(&r).effect, Effect::Allow);
}

#[test]
fn an_engine_is_shared_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<lucid_policy::Engine>();
    let engine = std::sync::Arc::new(engine(
        shipped_schema(),
        &[(
            "p.cedar",
            "permit (principal in Workspace::\"research\", action, resource);",
        )],
    ));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let mut r = request(
                    Phase::Request,
                    vec![(
                        "injection_risk",
                        ClaimValue::ScoreNormalized(0.1 * f64::from(i)),
                    )],
                );
                r.scope.agent = format!("agent-{i}");
                if i % 2 == 1 {
                    r.scope.workspace = "sales".into();
                }
                engine.decide(&r).effect
            })
        })
        .collect();
    let effects: Vec<Effect> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        effects,
        [Effect::Allow, Effect::Deny, Effect::Allow, Effect::Deny]
    );
}

#[test]
fn requests_read_the_hosts_claim_json() {
    let r: lucid_policy::DecisionRequest = serde_json::from_value(serde_json::json!({
        "scope": {"org": "acme", "workspace": "research", "agent": "triage"},
        "phase": "response",
        "model": "gpt-4o-mini",
        "claims": [
            {"name": "pii_count", "type": "count", "value": 2, "confidence": 1.0, "metadata": {"kinds": {"email": 2}}},
            {"name": "injection_risk", "type": "score_normalized", "value": 0.25, "confidence": 0.9, "metadata": null},
            {"name": "lucid.auditor_error", "type": "object", "value": {"auditor": "x"}}
        ],
        "coverage": {"ran": ["pii"], "failed": []}
    }))
    .unwrap();
    assert_eq!(r.phase, Phase::Response);
    assert_eq!(r.claims[0].value, ClaimValue::Count(2));
    assert_eq!(r.claims[1].value, ClaimValue::ScoreNormalized(0.25));
    assert!(matches!(r.claims[2].value, ClaimValue::Object(_)));
    let back = serde_json::to_value(&r.claims[0]).unwrap();
    // The one JSON form of a claim (the contract's): confidence and metadata round-trip.
    assert_eq!(
        back,
        serde_json::json!({"name": "pii_count", "type": "count", "value": 2, "confidence": 1.0, "metadata": {"kinds": {"email": 2}}})
    );
    assert_eq!(r.claims[1].confidence, 0.9);
}
