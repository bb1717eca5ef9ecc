use lucid_policy::{ClaimValue, Effect, Engine, Phase, PolicySet, run_tests, validate};

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
