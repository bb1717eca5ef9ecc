//! The signer against a reference: the AR built the plain way, with `serde_json::Value` and the
//! public functions of the format (parse the core, add the fields, `signing_bytes`, sign,
//! `serde_json::to_string`). The signer's own JSON tree must give the very same text, byte for
//! byte, for any core: key order, escapes, numbers, duplicate keys.

use ed25519_dalek::{Signer as _, SigningKey};
use lucid_ar::{ChainSigner, binding_hash, binding_of, claims_hash, sha256_hex, signing_bytes};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::canonical::{json, shuffled_text, string};
use crate::util::{RECEIPT_SHA256, core, seed};

/// The AR of `core_text` at `depth` after `previous`, by key `n`, built with `Value`.
fn reference_ar(n: u8, core_text: &str, depth: u64, previous: Option<&str>) -> String {
    let key = SigningKey::from_bytes(&seed(n));
    let mut ar: Map<String, Value> = serde_json::from_str(core_text).unwrap();
    let claims: Vec<Value> = ar["phases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|phase| phase["claims"].as_array().unwrap().clone())
        .collect();
    ar.entry("claims_hash")
        .or_insert(claims_hash(&claims).into());
    ar.insert("chain_depth".into(), depth.into());
    ar.insert(
        "ar_references".into(),
        json!(previous.into_iter().collect::<Vec<_>>()),
    );
    ar.insert(
        "signer".into(),
        json!({
            "public_key": hex::encode(key.verifying_key().as_bytes()),
            "receipt_sha256": RECEIPT_SHA256,
        }),
    );
    if let Some(binding) = binding_of(&ar) {
        ar.insert("binding_hash".into(), binding_hash(&binding).into());
    }
    let bytes = signing_bytes(&ar);
    ar.insert("ar_hash".into(), sha256_hex(&bytes).into());
    ar.insert(
        "signature".into(),
        hex::encode(key.sign(&bytes).to_bytes()).into(),
    );
    serde_json::to_string(&ar).unwrap()
}

/// Signs `texts` in a chain with key `n` and checks each AR against the reference.
fn same_as_reference(n: u8, texts: &[String]) {
    let mut signer = ChainSigner::new(&mut seed(n), RECEIPT_SHA256).unwrap();
    let mut previous: Option<String> = None;
    for (depth, text) in texts.iter().enumerate() {
        let ar = signer.sign(text).unwrap();
        let expected = reference_ar(n, text, depth as u64, previous.as_deref());
        assert_eq!(ar, expected, "core {text}");
        let ar: Value = serde_json::from_str(&ar).unwrap();
        previous = Some(ar["ar_hash"].as_str().unwrap().to_owned());
    }
}

#[test]
fn the_sample_cores_sign_as_the_reference_does() {
    let gateway: Value = serde_json::from_str(include_str!("../data/gateway_core.json")).unwrap();
    same_as_reference(
        1,
        &[
            core(0).to_string(),
            include_str!("../data/gateway_core.json").to_owned(),
            gateway.to_string(),
            core(1).to_string(),
        ],
    );
}

#[test]
fn duplicate_keys_count_as_serde_json_counts_them() {
    let text = core(0).to_string();
    let inner = &text[1..text.len() - 1];
    // The last of duplicate keys wins, at every depth; escapes in keys and strings.
    let texts = [
        format!(r#"{{"request_id":"first","x":1,{inner},"x":{{"b":1,"a":2,"b":"\u00e9\n"}}}}"#),
        format!(r#"{{"version":"lucid-ar/0",{inner},"a\"b":"c\\d","\u0076ersion":"lucid-ar/1"}}"#),
    ];
    same_as_reference(2, &texts);
}

/// `value` with every integer outside ±(2^53 − 1), which a core may not hold, made a float.
fn safe(value: Value) -> Value {
    match value {
        Value::Number(n) if n.as_i64().is_some() || n.as_u64().is_some() => {
            let max = lucid_ar::MAX_SAFE_INTEGER;
            let ok = n.as_u64().is_some_and(|u| u <= max)
                || n.as_i64().is_some_and(|i| i.unsigned_abs() <= max);
            if ok {
                Value::Number(n)
            } else {
                json!(n.as_f64().unwrap() + 0.5)
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(safe).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, safe(v))).collect()),
        other => other,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any extra fields, anywhere the format allows them, in any key order and spacing.
    #[test]
    fn any_core_signs_as_the_reference_does(
        extra in json(),
        name in string(),
        metadata in json(),
        seed in 1..u64::MAX,
    ) {
        let mut c = core(seed % 1000);
        prop_assume!(!lucid_ar::RESERVED_FIELDS.contains(&name.as_str()) && c.get(&name).is_none());
        c[&name] = safe(extra);
        c["phases"][0]["claims"][1]["metadata"] = json!({ "m": safe(metadata), name.clone(): 1 });
        c["measurements"]["auditors"][&name] = json!("a".repeat(64));
        let text = shuffled_text(&c, &mut { seed });
        same_as_reference(3, &[text, c.to_string()]);
    }
}
