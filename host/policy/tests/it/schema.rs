use lucid_policy::{AuditorVocabulary, ClaimType, PolicyError, Schema, schema_text};

use crate::util::{policies_dir, shipped_schema, test_schema};

#[test]
fn every_claim_is_an_optional_attribute_of_its_cedar_type() {
    let text = test_schema().text().to_string();
    for line in [
        "  injection_risk?: decimal,",
        "  injection_detected?: Bool,",
        "  pii_entities?: Set<String>,",
        "  pii_count?: Long,",
        "  \"latency.p50\"?: Long,",
        "  \"if\"?: Bool,",
        "  verdict?: String,",
        "  // details: object, not exposed to policies",
        "entity Agent in [Workspace, Org];",
        "action \"artifact\", \"request\", \"execution\", \"response\" appliesTo {",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}

#[test]
fn object_claims_are_not_exposed() {
    let schema = test_schema();
    assert_eq!(schema.claim_type("details"), None);
    assert_eq!(
        schema.claim_type("latency.p50"),
        Some(ClaimType::DurationMs)
    );
}

#[test]
fn a_claim_name_declared_with_two_types_is_an_error() {
    let err = Schema::from_vocabularies(&[
        AuditorVocabulary::new("a", [("risk", ClaimType::ScoreNormalized)]),
        AuditorVocabulary::new("b", [("risk", ClaimType::Count)]),
    ])
    .unwrap_err();
    assert!(matches!(err, PolicyError::ClaimConflict { .. }));
    assert_eq!(
        err.to_string(),
        "claim 'risk' is declared as score_normalized by auditor 'a' and as count by auditor \
         'b'; a claim name must have one type"
    );
}

#[test]
fn the_same_claim_from_two_auditors_with_one_type_is_fine() {
    let schema = Schema::from_vocabularies(&[
        AuditorVocabulary::new("a", [("flag", ClaimType::Boolean)]),
        AuditorVocabulary::new("b", [("flag", ClaimType::Boolean)]),
    ])
    .unwrap();
    assert_eq!(schema.text().matches("flag?: Bool").count(), 1);
}

#[test]
fn no_auditor_gives_an_empty_claims_record() {
    let text = schema_text(&[]).unwrap();
    assert!(text.contains("type Claims = {\n};"), "{text}");
}

/// `policies/schema.cedarschema` is what the shipped auditors generate. Run with
/// `LUCID_BLESS=1` to rewrite it after changing a shipped vocabulary.
#[test]
fn the_shipped_schema_file_is_in_sync() {
    let path = policies_dir().join("schema.cedarschema");
    let generated = shipped_schema().text().to_string();
    if std::env::var_os("LUCID_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "{} is stale; regenerate it with LUCID_BLESS=1 cargo test",
        path.display()
    );
    // And Cedar reads it back as is.
    let (_, warnings) = cedar_policy::Schema::from_cedarschema_str(&on_disk).unwrap();
    assert_eq!(warnings.count(), 0);
}
