//! The shipped auditor catalogue: every auditor in `plugins/` loads together with the others,
//! and the vocabularies the policy crate ships (the schema `lucid policy` uses without plugins,
//! and `policies/schema.cedarschema`) are exactly the built auditors' claims.

use std::collections::BTreeSet;

use lucid::runtime::plugin_dir::{Admission, EntryStatus, PluginLoader};

use crate::util::{plugins_dir, sandbox};

#[test]
fn every_shipped_auditor_loads_together_and_matches_the_shipped_vocabularies() {
    let set = PluginLoader::new(sandbox(), None, Admission::default())
        .scan(&plugins_dir(), None)
        .unwrap();
    for entry in &set.entries {
        assert_eq!(entry.status, EntryStatus::Loaded, "{entry:?}");
    }
    let shipped = lucid_policy::shipped_vocabularies();
    let built: BTreeSet<&str> = set.plugins.iter().map(|p| p.auditor.id()).collect();
    let listed: BTreeSet<&str> = shipped.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(
        built, listed,
        "plugins/ and lucid_policy::shipped_vocabularies() differ"
    );
    for vocabulary in &shipped {
        let plugin = set
            .plugins
            .iter()
            .find(|p| p.auditor.id() == vocabulary.id)
            .unwrap();
        let declared: BTreeSet<(String, String)> = plugin
            .auditor
            .vocabulary
            .claims
            .iter()
            .map(|c| (c.name.clone(), c.ty.to_string()))
            .collect();
        let expected: BTreeSet<(String, String)> = vocabulary
            .claims
            .iter()
            .map(|(name, ty)| (name.clone(), ty.to_string()))
            .collect();
        assert_eq!(declared, expected, "auditor {}", vocabulary.id);
    }
}

#[test]
fn the_shipped_setting_defaults_are_the_built_auditors() {
    let set = PluginLoader::new(sandbox(), None, Admission::default())
        .scan(&plugins_dir(), None)
        .unwrap();
    for (id, settings) in lucid_policy::shipped_setting_defaults() {
        let plugin = set
            .plugins
            .iter()
            .find(|p| p.auditor.id() == id)
            .unwrap_or_else(|| panic!("no shipped auditor {id}"));
        let defaults = plugin.auditor.vocabulary.default_settings();
        for (name, value) in settings {
            let built = defaults
                .0
                .get(&name)
                .unwrap_or_else(|| panic!("{id} declares no setting {name}"));
            assert_eq!(built.to_json(), value, "{id}.{name}");
        }
    }
}
