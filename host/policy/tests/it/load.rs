use lucid_policy::{Diagnostic, PolicyError, PolicySet, validate};
use sha2::{Digest, Sha256};

use crate::util::{shipped_schema, test_schema};

fn set(files: &[(&str, &str)]) -> Result<PolicySet, PolicyError> {
    PolicySet::from_sources(files.iter().map(|(p, t)| (p.to_string(), t.to_string())))
}

fn diagnostics(files: &[(&str, &str)]) -> Vec<Diagnostic> {
    match set(files) {
        Err(PolicyError::Invalid(d)) => d,
        Err(e) => panic!("unexpected error {e}"),
        Ok(set) => validate(&set, &shipped_schema()).unwrap_err(),
    }
}

#[test]
fn load_dir_reads_cedar_files_in_path_order_and_hashes_them() {
    let dir = tempfile::tempdir().unwrap();
    let b = "@id(\"b\")\npermit (principal, action, resource);\n";
    let a = "// first\n@id(\"a\")\nforbid (principal, action, resource) when { false };\n";
    std::fs::write(dir.path().join("b.cedar"), b).unwrap();
    std::fs::write(dir.path().join("a.cedar"), a).unwrap();
    std::fs::write(dir.path().join("tests.json"), "{}").unwrap();
    std::fs::write(dir.path().join("notes.md"), "not policy").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/c.cedar"), "syntax error").unwrap();

    let set = PolicySet::load_dir(dir.path()).unwrap();
    assert_eq!(set.files().collect::<Vec<_>>(), ["a.cedar", "b.cedar"]);
    assert_eq!(set.len(), 2);
    let expected = hex::encode(Sha256::digest(format!("a.cedar\n{a}\nb.cedar\n{b}\n")));
    assert_eq!(set.hash(), expected);
    assert_eq!(set.hash().len(), 64);
    assert!(
        set.hash()
            .bytes()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
    );
}

#[test]
fn the_hash_changes_with_a_file_name_or_a_byte() {
    let policy = "permit (principal, action, resource);";
    let one = set(&[("a.cedar", policy)]).unwrap();
    let renamed = set(&[("b.cedar", policy)]).unwrap();
    let edited = set(&[("a.cedar", "permit (principal, action, resource);\n")]).unwrap();
    assert_ne!(one.hash(), renamed.hash());
    assert_ne!(one.hash(), edited.hash());
    assert_eq!(one.hash(), set(&[("a.cedar", policy)]).unwrap().hash());
}

#[test]
fn a_missing_dir_is_an_io_error() {
    let err = PolicySet::load_dir(std::path::Path::new("/nonexistent/policies")).unwrap_err();
    assert!(matches!(err, PolicyError::Io { .. }), "{err}");
}

#[test]
fn a_parse_error_names_file_and_line() {
    let d = diagnostics(&[
        ("a.cedar", "permit (principal, action, resource);\n"),
        (
            "b.cedar",
            "// ok so far\n\npermit (principal, action, resource)\nwhen { 1 + };\n",
        ),
    ]);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!((d[0].file.as_str(), d[0].line), ("b.cedar", 4));
    assert!(d[0].to_string().starts_with("b.cedar:4: "), "{}", d[0]);
}

#[test]
fn a_type_error_names_file_and_line() {
    let d = diagnostics(&[
        ("a.cedar", "permit (principal, action, resource);\n"),
        (
            "b.cedar",
            "@id(\"unsafe\")\nforbid (principal, action, resource)\nwhen {\n  \
             context.claims.injection_risk.greaterThan(decimal(\"0.5\"))\n};\n",
        ),
    ]);
    assert!(!d.is_empty());
    for diagnostic in &d {
        assert_eq!(
            (diagnostic.file.as_str(), diagnostic.line),
            ("b.cedar", 4),
            "{d:?}"
        );
        assert!(
            diagnostic.message.contains("injection_risk"),
            "{diagnostic}"
        );
    }
}

#[test]
fn a_misspelt_claim_behind_has_is_rejected() {
    // Strict mode alone accepts `has` on an undeclared attribute (always false), which would
    // make this forbid silently never fire.
    let d = diagnostics(&[(
        "p.cedar",
        "permit (principal, action, resource);\n\n\
         @id(\"typo\")\nforbid (principal, action, resource)\n\
         when { context.claims has pii_entites || context.claims has injection_risk };\n",
    )]);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!((d[0].file.as_str(), d[0].line), ("p.cedar", 3));
    assert!(d[0].message.contains("'pii_entites'"), "{}", d[0]);
}

#[test]
fn reading_an_object_claim_is_rejected() {
    let set = set(&[(
        "p.cedar",
        "forbid (principal, action, resource) when { context.claims has details };",
    )])
    .unwrap();
    let d = validate(&set, &test_schema()).unwrap_err();
    assert!(d.iter().any(|d| d.message.contains("'details'")), "{d:?}");
}

#[test]
fn an_impossible_policy_is_rejected() {
    let d = diagnostics(&[(
        "p.cedar",
        "permit (principal, action, resource);\nforbid (principal, action, resource) when { false };",
    )]);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].line, 2);
}

#[test]
fn duplicate_ids_are_rejected() {
    let d = diagnostics(&[
        (
            "a.cedar",
            "@id(\"same\")\npermit (principal, action, resource);",
        ),
        (
            "b.cedar",
            "\n@id(\"same\")\npermit (principal, action, resource);",
        ),
    ]);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!((d[0].file.as_str(), d[0].line), ("b.cedar", 2));
    assert!(d[0].message.contains("a.cedar:1"), "{}", d[0]);
}

#[test]
fn templates_are_rejected() {
    let d = diagnostics(&[(
        "t.cedar",
        "\npermit (principal == ?principal, action, resource);",
    )]);
    assert_eq!((d[0].file.as_str(), d[0].line), ("t.cedar", 2), "{d:?}");
}

#[test]
fn policies_without_id_are_named_by_file_and_line() {
    let set = set(&[(
        "p.cedar",
        "permit (principal, action, resource);\n// two on one line\nforbid (principal, action, resource) when { context.coverage.failed.contains(\"x\") }; forbid (principal, action, resource) when { context.coverage.ran.contains(\"x\") };",
    )])
    .unwrap();
    assert_eq!(
        set.labels().into_iter().collect::<Vec<_>>(),
        ["p.cedar:1", "p.cedar:3", "p.cedar:3.2"]
    );
    validate(&set, &shipped_schema()).unwrap();
}

#[test]
fn a_set_that_fails_validation_never_builds_an_engine() {
    let good = set(&[("p.cedar", "permit (principal, action, resource);")]).unwrap();
    let bad = set(&[(
        "p.cedar",
        "permit (principal, action, resource) when { context.claims.pii_count > 0 };",
    )])
    .unwrap();
    let current = lucid_policy::Engine::new(shipped_schema(), good).unwrap();
    assert!(lucid_policy::Engine::new(shipped_schema(), bad).is_err());
    // The host keeps `current`: nothing of the bad set reached it.
    assert_eq!(current.policies().len(), 1);
}
