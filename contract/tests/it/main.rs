//! The WIT contract (`wit/auditor`) and this crate name the same phases, claim types, setting
//! types and record fields. The WIT names are the kebab-case of the snake_case names
//! (`score-normalized` for `score_normalized`). Every set is compared both ways, so a case added
//! on one side only fails here, naming the case.

use std::collections::BTreeSet;
use std::path::Path;

use lucid_contract::{Claim, ClaimType, Phase, Scope, SettingType, Span};
use wit_parser::{Interface, Resolve, TypeDefKind};

/// The `types` interface of `lucid:auditor`, parsed from the repository's `wit/auditor`.
fn wit_types() -> (Resolve, wit_parser::InterfaceId) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit/auditor");
    let mut resolve = Resolve::default();
    let (package, _) = resolve
        .push_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot parse {}: {e:?}", dir.display()));
    let types = *resolve.packages[package]
        .interfaces
        .get("types")
        .expect("wit/auditor has no interface 'types'");
    (resolve, types)
}

fn kebab(name: &str) -> String {
    name.replace('_', "-")
}

/// The case names of the enum, variant or record `name` of `interface`.
fn wit_names(resolve: &Resolve, interface: &Interface, name: &str) -> BTreeSet<String> {
    let id = *interface
        .types
        .get(name)
        .unwrap_or_else(|| panic!("the wit interface 'types' has no type '{name}'"));
    match &resolve.types[id].kind {
        TypeDefKind::Enum(e) => e.cases.iter().map(|c| c.name.clone()).collect(),
        TypeDefKind::Variant(v) => v.cases.iter().map(|c| c.name.clone()).collect(),
        TypeDefKind::Record(r) => r.fields.iter().map(|f| f.name.clone()).collect(),
        other => {
            panic!("wit type '{name}' is a {other:?}, expected an enum, a variant or a record")
        }
    }
}

/// Every name found on one side only, or `None` when both sides have the same names.
fn mismatch(what: &str, wit: &BTreeSet<String>, rust: &BTreeSet<String>) -> Option<String> {
    let only_wit: Vec<&String> = wit.difference(rust).collect();
    let only_rust: Vec<&String> = rust.difference(wit).collect();
    (!only_wit.is_empty() || !only_rust.is_empty()).then(|| {
        format!(
            "wit '{what}' and lucid-contract disagree: in the wit file only {only_wit:?}, \
             in lucid-contract only {only_rust:?}"
        )
    })
}

fn assert_same(what: &str, wit: &BTreeSet<String>, rust: &BTreeSet<String>) {
    if let Some(message) = mismatch(what, wit, rust) {
        panic!("{message}");
    }
}

fn names<'a>(names: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    names.into_iter().map(kebab).collect()
}

fn json_keys(value: serde_json::Value) -> BTreeSet<String> {
    match value {
        serde_json::Value::Object(map) => map.keys().map(|k| kebab(k)).collect(),
        other => panic!("expected a json object, got {other}"),
    }
}

#[test]
fn enums_and_variants_name_the_same_cases() {
    let (resolve, types) = wit_types();
    let types = &resolve.interfaces[types];

    let phases = names(Phase::ALL.map(Phase::as_str));
    assert_same("phase", &wit_names(&resolve, types, "phase"), &phases);

    let claim_types = names(ClaimType::ALL.map(ClaimType::as_str));
    assert_same(
        "claim-type",
        &wit_names(&resolve, types, "claim-type"),
        &claim_types,
    );
    assert_same(
        "claim-value",
        &wit_names(&resolve, types, "claim-value"),
        &claim_types,
    );

    let setting_types = names(SettingType::ALL.map(SettingType::as_str));
    assert_same(
        "setting-type",
        &wit_names(&resolve, types, "setting-type"),
        &setting_types,
    );
    assert_same(
        "setting-value",
        &wit_names(&resolve, types, "setting-value"),
        &setting_types,
    );
}

#[test]
fn records_have_the_fields_of_the_json_forms() {
    let (resolve, types) = wit_types();
    let types = &resolve.interfaces[types];

    let scope = json_keys(serde_json::to_value(Scope::default()).unwrap());
    assert_same("scope", &wit_names(&resolve, types, "scope"), &scope);

    // The claim's JSON form spells its value as `type` plus `value`; the wit record carries the
    // type in the `claim-value` variant's case.
    // `spans` appears in the JSON form only when a claim has some.
    let spanned = Claim::boolean("flag", true).with_span(Span::new("/m", 0, 1, "email"));
    let mut claim = json_keys(spanned.to_json());
    assert!(claim.remove("type"), "the claim json has no 'type'");
    assert_same("claim", &wit_names(&resolve, types, "claim"), &claim);

    let span =
        json_keys(serde_json::to_value(Span::new("/m", 0, 1, "email").with_label("[E]")).unwrap());
    assert_same("span", &wit_names(&resolve, types, "span"), &span);
}

#[test]
fn a_case_on_one_side_only_is_named() {
    let wit = names(["a", "b", "string_list"]);
    let rust = names(["a", "c", "string_list"]);
    assert_eq!(
        mismatch("demo", &wit, &rust).as_deref(),
        Some(
            r#"wit 'demo' and lucid-contract disagree: in the wit file only ["b"], in lucid-contract only ["c"]"#
        )
    );
    let mut more = wit.clone();
    more.insert("d".into());
    assert!(mismatch("demo", &wit, &more).is_some());
    assert!(mismatch("demo", &more, &wit).is_some());
    assert_eq!(mismatch("demo", &wit, &wit), None);
}
