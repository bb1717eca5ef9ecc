use lucid_policy::overrides::{SettingKind, Settings};
use lucid_policy::{
    Bundle, Enforcement, EnforcementMode, OverrideError, ScopeSettings, check_override,
    effective_settings, shipped_setting_defaults,
};
use serde_json::{Value, json};

use crate::util::{policies_dir, scope};

fn message(field: &str, mode: EnforcementMode, bound: Value, value: Value) -> String {
    check_override(field, mode, &bound, &value)
        .unwrap_err()
        .to_string()
}

#[test]
fn messages_have_the_seed_shape() {
    use EnforcementMode::*;
    assert_eq!(
        message("threshold", Floor, json!(0.7), json!(0.5)),
        "Field 'threshold' has floor enforcement (0.7). Override value 0.5 is below the floor."
    );
    assert_eq!(
        message("threshold", Ceiling, json!(0.9), json!(0.95)),
        "Field 'threshold' has ceiling enforcement (0.9). Override value 0.95 is above the ceiling."
    );
    assert_eq!(
        message("max_tokens", Exact, json!(4096), json!(8192)),
        "Field 'max_tokens' has exact enforcement (4096). Override value 8192 does not match."
    );
    assert_eq!(
        message(
            "entities",
            Superset,
            json!(["credit_card", "email"]),
            json!(["email"])
        ),
        "Field 'entities' has superset enforcement ([\"credit_card\",\"email\"]). Override value [\"email\"] is missing \"credit_card\"."
    );
    assert_eq!(
        message(
            "entities",
            Superset,
            json!(["credit_card", "email"]),
            json!([])
        ),
        "Field 'entities' has superset enforcement ([\"credit_card\",\"email\"]). Override value [] is missing \"credit_card\", \"email\"."
    );
    assert_eq!(
        message("threshold", Unlocked, json!(0.7), json!("high")),
        "Field 'threshold' has unlocked enforcement (0.7). Override value \"high\" is not a number."
    );
    assert_eq!(
        message("max_tokens", Ceiling, json!(4096), json!(100.5)),
        "Field 'max_tokens' has ceiling enforcement (4096). Override value 100.5 is not a count."
    );
    assert_eq!(
        message("max_tokens", Floor, json!(4096), json!(-1)),
        "Field 'max_tokens' has floor enforcement (4096). Override value -1 is not a count."
    );

    assert_eq!(
        message("entities", Floor, json!(["email"]), json!(["email"])),
        "Field 'entities' has floor enforcement ([\"email\"]), which is not a number."
    );
}

#[test]
fn numbers_print_the_natural_way() {
    use EnforcementMode::*;
    // 0.1 + 0.2 is 0.30000000000000004: shown as it is, never padded or cut.
    assert_eq!(
        message("t", Floor, json!(0.7), json!(0.1 + 0.2)),
        "Field 't' has floor enforcement (0.7). Override value 0.30000000000000004 is below the floor."
    );
    assert_eq!(
        message("t", Exact, json!(2.0), json!(3.0)),
        "Field 't' has exact enforcement (2). Override value 3 does not match."
    );
}

#[test]
fn values_within_bounds_pass() {
    use EnforcementMode::*;
    for (mode, bound, value) in [
        (Floor, json!(0.7), json!(0.7)),
        (Floor, json!(0.7), json!(1)),
        (Ceiling, json!(4096), json!(100)),
        (Exact, json!(0.5), json!(0.5)),
        (Exact, json!(2.0), json!(2)),
        (Exact, json!(4096), json!(4096.0)),
        (Floor, json!(1), json!(1e3)),
        (Exact, json!(["a", "b"]), json!(["b", "a", "a"])),
        (Exact, json!(true), json!(true)),
        (Superset, json!(["email"]), json!(["email", "phone"])),
        (Unlocked, json!("x"), json!("y")),
        (Unlocked, json!(0.7), json!(0)),
    ] {
        assert_eq!(
            check_override("f", mode, &bound, &value),
            Ok(()),
            "{mode} {bound} {value}"
        );
    }
}

fn settings(value: Value) -> Settings {
    serde_json::from_value(value).unwrap()
}

#[test]
fn agent_beats_workspace_beats_org_beats_default() {
    let defaults = shipped_setting_defaults();
    let org: lucid_policy::overrides::Enforcements = serde_json::from_value(json!({
        "injection": { "threshold": { "mode": "ceiling", "value": 0.8 } }
    }))
    .unwrap();
    let none = Settings::new();
    let org_only = effective_settings(&defaults, &org, &none, &none).unwrap();
    assert_eq!(org_only["injection"]["threshold"], json!(0.8));
    assert_eq!(org_only["token_budget"]["max_tokens"], json!(4096));
    assert!(org_only["pii"].is_empty());

    let workspace = settings(
        json!({ "injection": { "threshold": 0.6 }, "token_budget": { "max_tokens": 1000 } }),
    );
    let agent = settings(json!({ "injection": { "threshold": 0.5 } }));
    let resolved = effective_settings(&defaults, &org, &workspace, &agent).unwrap();
    assert_eq!(resolved["injection"]["threshold"], json!(0.5));
    assert_eq!(resolved["token_budget"]["max_tokens"], json!(1000));
}

#[test]
fn every_violation_is_reported() {
    let defaults = shipped_setting_defaults();
    let org = serde_json::from_value(json!({
        "injection": { "threshold": { "mode": "ceiling", "value": 0.8 } },
        "token_budget": { "max_tokens": { "mode": "exact", "value": 4096 } }
    }))
    .unwrap();
    let workspace = settings(json!({ "injection": { "threshold": 0.9, "thresold": 0.1 } }));
    let agent = settings(json!({ "token_budget": { "max_tokens": 8192 }, "nope": { "x": 1 } }));
    let errors = effective_settings(&defaults, &org, &workspace, &agent).unwrap_err();
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            "Field 'thresold' is not a setting of auditor 'injection'.",
            "Field 'x' is not a setting of auditor 'nope'.",
            "Field 'threshold' has ceiling enforcement (0.8). Override value 0.9 is above the ceiling.",
            "Field 'max_tokens' has exact enforcement (4096). Override value 8192 does not match.",
        ]
    );
}

#[test]
fn integers_for_number_settings_are_numbers() {
    let defaults = shipped_setting_defaults();
    let org = serde_json::from_value(json!({
        "injection": { "threshold": { "mode": "floor", "value": 0 } }
    }))
    .unwrap();
    let overrides = settings(json!({
        "injection": { "threshold": 1 },
        "token_budget": { "max_tokens": 2048.0 }
    }));
    let resolved = effective_settings(&defaults, &org, &overrides, &Settings::new()).unwrap();
    assert_eq!(resolved["injection"]["threshold"], json!(1.0));
    assert!(resolved["injection"]["threshold"].is_f64());
    assert!(resolved["token_budget"]["max_tokens"].is_u64());
    assert_eq!(SettingKind::of(&json!(1)), Some(SettingKind::Count));
}

#[test]
fn a_bad_org_bound_is_reported() {
    let defaults = shipped_setting_defaults();
    for (enforcement, expected) in [
        (
            json!({ "mode": "floor" }),
            "Field 'threshold' has floor enforcement but no value.",
        ),
        (
            json!({ "mode": "exact", "value": "high" }),
            "Field 'threshold' has exact enforcement (\"high\"), which is not a number.",
        ),
        (
            json!({ "mode": "superset", "value": 0.5 }),
            "Field 'threshold' has superset enforcement (0.5), which is not a list of strings.",
        ),
    ] {
        let org =
            serde_json::from_value(json!({ "injection": { "threshold": enforcement } })).unwrap();
        let errors =
            effective_settings(&defaults, &org, &Settings::new(), &Settings::new()).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].to_string(), expected);
        assert_eq!(errors[0].field(), "threshold");
    }
}

const CONFIG: &str = r#"
[orgs.acme.enforcement.injection]
threshold = { mode = "ceiling", value = 0.7 }
[orgs.acme.enforcement.token_budget]
max_tokens = { mode = "unlocked" }

[orgs.acme.workspaces.research.overrides.injection]
threshold = 0.6
[orgs.acme.workspaces.research.agents.triage.overrides.token_budget]
max_tokens = 2048
"#;

#[test]
fn the_documented_toml_shape_resolves_per_scope() {
    let config = ScopeSettings::from_toml(CONFIG).unwrap();
    assert_eq!(
        config.orgs["acme"].enforcement["injection"]["threshold"],
        Enforcement {
            mode: EnforcementMode::Ceiling,
            value: Some(json!(0.7))
        }
    );
    let defaults = shipped_setting_defaults();
    config.check(&defaults).unwrap();
    let triage = config
        .effective(&defaults, &scope("acme", "research", "triage"))
        .unwrap();
    assert_eq!(triage["injection"]["threshold"], json!(0.6));
    assert_eq!(triage["token_budget"]["max_tokens"], json!(2048));
    let other = config
        .effective(&defaults, &scope("acme", "sales", "bot"))
        .unwrap();
    assert_eq!(other["injection"]["threshold"], json!(0.7));
    assert_eq!(other["token_budget"]["max_tokens"], json!(4096));
    let unknown_org = config
        .effective(&defaults, &scope("globex", "x", "y"))
        .unwrap();
    assert_eq!(
        unknown_org,
        config
            .effective(&defaults, &scope("nobody", "", ""))
            .unwrap()
    );
}

#[test]
fn check_finds_a_bad_override_anywhere_in_the_config() {
    let config = ScopeSettings::from_toml(&format!(
        "{CONFIG}\n[orgs.acme.workspaces.sales.agents.bot.overrides.injection]\nthreshold = 0.75\n"
    ))
    .unwrap();
    let errors = config.check(&shipped_setting_defaults()).unwrap_err();
    assert_eq!(
        errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [
            "Field 'threshold' has ceiling enforcement (0.7). Override value 0.75 is above the ceiling."
        ]
    );
}

#[test]
fn unknown_config_keys_and_modes_are_rejected() {
    assert!(ScopeSettings::from_toml("[orgs.acme.enforcment]").is_err());
    let err = ScopeSettings::from_toml(
        "[orgs.acme.enforcement.injection]\nthreshold = { mode = \"at_least\", value = 0.7 }",
    )
    .unwrap_err();
    assert!(err.contains("at_least"), "{err}");
}

#[test]
fn errors_compare_and_expose_their_field() {
    let e = check_override(
        "threshold",
        EnforcementMode::Floor,
        &json!(0.7),
        &json!(0.5),
    )
    .unwrap_err();
    assert!(
        matches!(&e, OverrideError::Violation(v) if v.problem == lucid_policy::overrides::Problem::BelowFloor)
    );
    assert_eq!(e.field(), "threshold");
}

#[test]
fn shipped_bundles_are_valid() {
    let dir = policies_dir().join("bundles");
    let defaults = shipped_setting_defaults();
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bundle = Bundle::load(&path).unwrap();
        assert!(
            policies_dir().join("presets").join(&bundle.preset).is_dir(),
            "{}: no preset '{}'",
            path.display(),
            bundle.preset
        );
        effective_settings(
            &defaults,
            &bundle.enforcement,
            &Settings::new(),
            &Settings::new(),
        )
        .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        names.push(path.file_stem().unwrap().to_string_lossy().into_owned());
    }
    names.sort();
    assert_eq!(
        names,
        ["production_team", "regulated_enterprise", "solo_builder"]
    );
}
