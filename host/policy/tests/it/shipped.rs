use lucid_policy::{ClaimValue, Effect, Engine, Phase, PolicySet, Redact, run_tests, validate};

use crate::util::{policies_dir, request, shipped_schema};

const PRESETS: [&str; 3] = ["starter", "balanced", "strict"];

#[test]
fn every_preset_validates_strictly_against_the_shipped_schema() {
    let schema = shipped_schema();
    for preset in PRESETS {
        let set = PolicySet::load_dir(&policies_dir().join("presets").join(preset)).unwrap();
        assert!(!set.is_empty(), "{preset}");
        if let Err(d) = validate(&set, &schema) {
            panic!("{preset}: {d:#?}");
        }
    }
}

#[test]
fn every_preset_passes_its_tests() {
    let schema = shipped_schema();
    for preset in PRESETS {
        let report = run_tests(&policies_dir().join("presets").join(preset), &schema).unwrap();
        assert!(report.results.len() >= 5, "{preset}: too few cases");
        assert_eq!(report.failed(), 0, "{preset}:\n{report}");
        let table = report.to_string();
        assert!(table.starts_with("result  case"), "{table}");
        assert!(
            table.ends_with(&format!("{} passed, 0 failed", report.results.len())),
            "{table}"
        );
        assert_eq!(report.policy_hash.len(), 64);
    }
}

/// The product demo: under the default preset a message containing a card number is denied.
#[test]
fn the_default_preset_denies_a_card_number() {
    let set = PolicySet::load_dir(&policies_dir().join("presets/balanced")).unwrap();
    let engine = Engine::new(shipped_schema(), set).unwrap();
    let card = engine.decide(&request(
        Phase::Request,
        vec![
            ("pii_detected", ClaimValue::Boolean(true)),
            (
                "pii_entities",
                ClaimValue::StringList(vec!["credit_card".into()]),
            ),
            ("pii_count", ClaimValue::Count(1)),
        ],
    ));
    assert_eq!(card.effect, Effect::Deny);
    assert_eq!(card.reasons, ["balanced.deny-credit-card"]);
    let clean = engine.decide(&request(
        Phase::Request,
        vec![("pii_detected", ClaimValue::Boolean(false))],
    ));
    assert_eq!(clean.effect, Effect::Allow);
}

/// The issue's demo: under the default preset an e-mail address in a prompt is allowed once
/// masked; in an answer it is left alone.
#[test]
fn the_default_preset_masks_an_email_address_in_a_prompt() {
    let set = PolicySet::load_dir(&policies_dir().join("presets/balanced")).unwrap();
    let engine = Engine::new(shipped_schema(), set).unwrap();
    let email = |phase| {
        engine.decide(&request(
            phase,
            vec![
                ("pii_detected", ClaimValue::Boolean(true)),
                ("pii_entities", ClaimValue::StringList(vec!["email".into()])),
                ("pii_count", ClaimValue::Count(1)),
            ],
        ))
    };
    let prompt = email(Phase::Request);
    assert_eq!(prompt.effect, Effect::Allow);
    assert_eq!(prompt.reasons, ["balanced.permit"]);
    let kinds = [
        "api_key",
        "email",
        "iban",
        "jwt",
        "phone",
        "private_key",
        "secret",
        "us_ssn",
    ];
    assert_eq!(
        prompt.redact,
        [Redact {
            policy: "balanced.mask-personal-data".into(),
            claim: "pii_entities".into(),
            kinds: kinds.map(String::from).to_vec(),
        }]
    );
    let answer = email(Phase::Response);
    assert_eq!(answer.effect, Effect::Allow);
    assert!(answer.redact.is_empty(), "{answer:?}");
}

#[test]
fn the_presets_say_where_they_may_mask() {
    let phases = |preset: &str| {
        let set = PolicySet::load_dir(&policies_dir().join("presets").join(preset)).unwrap();
        Phase::ALL.map(|p| set.redacts_in(p))
    };
    // artifact, request, execution, response
    assert_eq!(phases("starter"), [false; 4]);
    assert_eq!(phases("balanced"), [false, true, false, false]);
    assert_eq!(phases("strict"), [false, true, false, true]);
}

#[test]
fn a_case_expecting_masking_reports_it_in_the_table() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.cedar"),
        "@id(\"all\")\npermit (principal, action, resource);\n\
         @id(\"mask\")\n@redact(\"pii_entities\")\nforbid (principal, action, resource)\n\
         when { context.claims has pii_entities && context.claims.pii_entities.contains(\"email\") };",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tests.json"),
        r#"{"cases": [
            {"name": "masked", "phase": "request",
             "claims": {"pii_entities": {"type": "string_list", "value": ["email"]}},
             "expect": {"effect": "allow", "redact": ["mask"]}},
            {"name": "effect only", "phase": "request",
             "claims": {"pii_entities": {"type": "string_list", "value": ["email"]}},
             "expect": {"effect": "allow"}},
            {"name": "unexpected masking", "phase": "request",
             "claims": {"pii_entities": {"type": "string_list", "value": ["email"]}},
             "expect": {"effect": "allow", "reasons": ["all"], "redact": []}},
            {"name": "missing masking", "phase": "request",
             "expect": {"effect": "allow", "redact": ["mask"]}}
        ]}"#,
    )
    .unwrap();
    let report = run_tests(dir.path(), &shipped_schema()).unwrap();
    let table = report.to_string();
    assert_eq!((report.passed(), report.failed()), (2, 2), "{table}");
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[1].starts_with("PASS    masked "), "{table}");
    assert!(
        lines[1].contains(" allow redact [mask] ")
            && lines[1].ends_with(" allow [all] redact [mask]"),
        "{table}"
    );
    assert!(
        lines[3].starts_with("FAIL    unexpected masking "),
        "{table}"
    );
    assert!(lines[3].ends_with("allow [all] redact [mask]"), "{table}");
    assert!(lines[4].starts_with("FAIL    missing masking "), "{table}");
    assert!(lines[4].ends_with("allow [all]"), "{table}");
}

#[test]
fn a_failing_case_is_reported_in_the_table() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.cedar"),
        "@id(\"all\")\npermit (principal, action, resource);",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tests.json"),
        r#"{"cases": [
            {"name": "right", "phase": "request", "expect": {"effect": "allow", "reasons": ["all"]}},
            {"name": "wrong", "phase": "request", "expect": {"effect": "deny"}},
            {"name": "wrong reasons", "phase": "request", "expect": {"effect": "allow", "reasons": []}}
        ]}"#,
    )
    .unwrap();
    let report = run_tests(dir.path(), &shipped_schema()).unwrap();
    assert_eq!((report.passed(), report.failed()), (1, 2));
    let table = report.to_string();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 5, "{table}");
    assert!(lines[1].starts_with("PASS    right "), "{table}");
    assert!(lines[2].starts_with("FAIL    wrong "), "{table}");
    assert!(lines[2].ends_with("allow [all]"), "{table}");
    assert_eq!(lines[4], "1 passed, 2 failed");
}

#[test]
fn a_bad_tests_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.cedar"),
        "permit (principal, action, resource);",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tests.json"),
        r#"{"cases": [{"name": "x"}]}"#,
    )
    .unwrap();
    let err = run_tests(dir.path(), &shipped_schema()).unwrap_err();
    assert!(err.to_string().starts_with("invalid policy tests"), "{err}");
}
