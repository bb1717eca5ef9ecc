//! The attestation *binding*: what a hardware attestation report vouches for. Its hash goes into
//! the report's `report_data` (with a verifier's nonce), and every AR carries the `binding_hash`
//! in force when it was signed, so that any AR can be tied to a report.
//!
//! The binding is a JSON object of exactly these fields, all taken from the AR itself:
//!
//! | field | from the AR |
//! |---|---|
//! | `receipt_public_key` | `signer.public_key` |
//! | `receipt_sha256` | `signer.receipt_sha256` |
//! | `auditors` | `measurements.auditors` |
//! | `plugin_set_hash` | `measurements.plugin_set_hash` |
//! | `policy_hash` | `policy_hash` |
//! | `config_hash` | `measurements.config_hash` (`null` when the AR has none) |
//! | `host_sha256` | `measurements.host_sha256` (`null` when the AR has none) |
//!
//! `binding_hash` = SHA-256 of the binding's RFC 8785 (JCS) bytes. The signer computes it when it
//! signs; a verifier recomputes it from the AR alone.

use serde_json::{Map, Value, json};

use crate::canonical::{Canonical, canonical_bytes, sha256_hex, write_string};
use crate::json::{Members, Node};

/// The binding of an AR that has its signer fields (or of a core plus the signer's key and
/// component hash): `None` when a field it needs is missing.
pub fn binding_of(ar: &Map<String, Value>) -> Option<Value> {
    let signer = ar.get("signer")?.as_object()?;
    binding_from(
        ar,
        signer.get("public_key")?.as_str()?,
        signer.get("receipt_sha256")?.as_str()?,
    )
}

/// The binding of `core` signed by `public_key`, a component with SHA-256 `receipt_sha256`.
pub(crate) fn binding_from(
    core: &Map<String, Value>,
    public_key: &str,
    receipt_sha256: &str,
) -> Option<Value> {
    let measurements = core.get("measurements")?.as_object()?;
    let optional = |name: &str| measurements.get(name).cloned().unwrap_or(Value::Null);
    Some(json!({
        "receipt_public_key": public_key,
        "receipt_sha256": receipt_sha256,
        "auditors": measurements.get("auditors")?.clone(),
        "plugin_set_hash": measurements.get("plugin_set_hash")?.clone(),
        "policy_hash": core.get("policy_hash")?.clone(),
        "config_hash": optional("config_hash"),
        "host_sha256": optional("host_sha256"),
    }))
}

/// The hash of the binding of an AR that has its signer fields: what its `binding_hash` must be.
pub(crate) fn ar_binding_hash<O, N>(ar: &O) -> Option<String>
where
    O: Members<Node = N>,
    N: Node<Object = O> + Canonical,
{
    let signer = ar.get("signer")?.as_object()?;
    let bytes = binding_bytes(
        ar,
        signer.get("public_key")?.as_str()?,
        signer.get("receipt_sha256")?.as_str()?,
    )?;
    Some(sha256_hex(&bytes))
}

/// The JCS bytes of the binding [`binding_from`] builds, written straight from the core's own
/// values (the signer's tree or a `Value`) without building the binding.
pub(crate) fn binding_bytes<O, N>(
    core: &O,
    public_key: &str,
    receipt_sha256: &str,
) -> Option<Vec<u8>>
where
    O: Members<Node = N>,
    N: Node<Object = O> + Canonical,
{
    let measurements = core.get("measurements")?.as_object()?;
    let auditors = measurements.get("auditors")?;
    let plugin_set_hash = measurements.get("plugin_set_hash")?;
    let policy_hash = core.get("policy_hash")?;
    let mut out = Vec::with_capacity(512);
    let optional = |name: &str, out: &mut Vec<u8>| match measurements.get(name) {
        Some(value) => value.write(out),
        None => out.extend_from_slice(b"null"),
    };
    // The members in JCS order (all names are ASCII).
    out.extend_from_slice(b"{\"auditors\":");
    auditors.write(&mut out);
    out.extend_from_slice(b",\"config_hash\":");
    optional("config_hash", &mut out);
    out.extend_from_slice(b",\"host_sha256\":");
    optional("host_sha256", &mut out);
    out.extend_from_slice(b",\"plugin_set_hash\":");
    plugin_set_hash.write(&mut out);
    out.extend_from_slice(b",\"policy_hash\":");
    policy_hash.write(&mut out);
    out.extend_from_slice(b",\"receipt_public_key\":");
    write_string(public_key, &mut out);
    out.extend_from_slice(b",\"receipt_sha256\":");
    write_string(receipt_sha256, &mut out);
    out.push(b'}');
    Some(out)
}

/// SHA-256 (lowercase hex) of the binding's JCS bytes.
pub fn binding_hash(binding: &Value) -> String {
    sha256_hex(&canonical_bytes(binding))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_binding_takes_every_field_from_the_ar_and_hashes_its_jcs_bytes() {
        let ar = json!({
            "policy_hash": "p".repeat(64),
            "measurements": {
                "auditors": {"pii": "a".repeat(64)},
                "plugin_set_hash": "s".repeat(64),
                "config_hash": "c".repeat(64),
                "settings_hash": "x".repeat(64),
            },
            "signer": {"public_key": "k".repeat(64), "receipt_sha256": "r".repeat(64)},
        });
        let binding = binding_of(ar.as_object().unwrap()).unwrap();
        assert_eq!(
            binding,
            json!({
                "receipt_public_key": "k".repeat(64),
                "receipt_sha256": "r".repeat(64),
                "auditors": {"pii": "a".repeat(64)},
                "plugin_set_hash": "s".repeat(64),
                "policy_hash": "p".repeat(64),
                "config_hash": "c".repeat(64),
                "host_sha256": null,
            })
        );
        // JCS: keys sorted, no whitespace.
        let text = String::from_utf8(canonical_bytes(&binding)).unwrap();
        assert!(text.starts_with("{\"auditors\":{\"pii\":\"aaaa"), "{text}");
        assert_eq!(binding_hash(&binding), sha256_hex(text.as_bytes()));
    }

    #[test]
    fn the_bytes_written_from_the_core_are_those_of_the_built_binding() {
        let full = json!({
            "policy_hash": "p".repeat(64),
            "measurements": {
                "auditors": {"pii": "a".repeat(64), "é\"x": {"nested": [1.0, -0.0, 1e21]}},
                "plugin_set_hash": "s".repeat(64),
                "config_hash": "c".repeat(64),
                "host_sha256": "h\n".repeat(3),
            },
        });
        let mut partial = full.clone();
        partial["measurements"]
            .as_object_mut()
            .unwrap()
            .retain(|k, _| k != "config_hash" && k != "host_sha256");
        for core in [&full, &partial] {
            let core = core.as_object().unwrap();
            let expected = canonical_bytes(&binding_from(core, "k\u{1}", "r").unwrap());
            assert_eq!(binding_bytes(core, "k\u{1}", "r").unwrap(), expected);
            let text = core_text(core);
            let tree = crate::json::parse(&text).unwrap();
            let object = tree.as_object().unwrap();
            assert_eq!(binding_bytes(object, "k\u{1}", "r").unwrap(), expected);
        }
        let mut missing = full.clone();
        missing.as_object_mut().unwrap().remove("policy_hash");
        assert!(binding_bytes(missing.as_object().unwrap(), "k", "r").is_none());
    }

    fn core_text(core: &Map<String, Value>) -> String {
        serde_json::to_string(core).unwrap()
    }

    #[test]
    fn an_ar_without_measurements_or_signer_has_no_binding() {
        let ar = json!({"policy_hash": "p", "signer": {"public_key": "k", "receipt_sha256": "r"}});
        assert!(binding_of(ar.as_object().unwrap()).is_none());
        let ar =
            json!({"policy_hash": "p", "measurements": {"auditors": {}, "plugin_set_hash": "s"}});
        assert!(binding_of(ar.as_object().unwrap()).is_none());
    }
}
