//! `lucid policy schema | validate | test` on the shipped presets and the shipped auditors.

use lucid_e2e::{lucid, preset, repo_root};

#[test]
fn every_shipped_preset_validates_and_passes_its_tests() {
    let plugins = std::env::var_os("LUCID_TEST_PLUGINS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo_root().join("plugins"));
    for name in ["starter", "balanced", "strict"] {
        let validate = lucid()
            .args(["policy", "validate"])
            .arg(preset(name))
            .arg("--plugins")
            .arg(&plugins)
            .output()
            .unwrap();
        assert!(
            validate.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&validate.stderr)
        );
        let test = lucid()
            .args(["policy", "test"])
            .arg(preset(name))
            .arg("--plugins")
            .arg(&plugins)
            .output()
            .unwrap();
        let table = String::from_utf8_lossy(&test.stdout);
        assert!(test.status.success(), "{name}: {table}");
        assert!(table.contains(" 0 failed"), "{name}: {table}");
    }
}

#[test]
fn the_schema_follows_the_plugins_and_invalid_policies_are_located() {
    let plugins = std::env::var_os("LUCID_TEST_PLUGINS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo_root().join("plugins"));
    let schema = lucid()
        .args(["policy", "schema", "--plugins"])
        .arg(&plugins)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&schema.stdout);
    assert!(schema.status.success());
    assert!(text.contains("pii_entities"), "{text}");
    assert!(text.contains("injection_risk"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.cedar"),
        "permit (principal, action, resource);\n\nforbid (principal, action, resource)\nwhen { context.claims has pii_count && context.claims.pii_count > \"many\" };\n",
    )
    .unwrap();
    let out = lucid()
        .args(["policy", "validate"])
        .arg(dir.path())
        .arg("--plugins")
        .arg(&plugins)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.cedar:3"), "{stderr}");
}
