//! RFC 8785 canonicalization: the reference vectors and properties.

use lucid_ar::{canonical_bytes, claims_hash, sha256_hex};
use proptest::prelude::*;
use serde_json::{Map, Value};

#[test]
fn reference_vectors() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/jcs");
    let mut count = 0;
    for entry in std::fs::read_dir(format!("{dir}/input")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap();
        let input: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let expected = std::fs::read(format!("{dir}/output/{name}")).unwrap();
        assert_eq!(
            String::from_utf8(canonical_bytes(&input)).unwrap(),
            String::from_utf8(expected).unwrap(),
            "{name}"
        );
        count += 1;
    }
    assert_eq!(count, 8);
}

/// RFC 8785 appendix B: IEEE 754 bit patterns and their canonical text.
#[test]
fn appendix_b_numbers() {
    let cases: [(u64, &str); 25] = [
        (0x0000000000000000, "0"),
        (0x8000000000000000, "0"),
        (0x0000000000000001, "5e-324"),
        (0x8000000000000001, "-5e-324"),
        (0x7fefffffffffffff, "1.7976931348623157e+308"),
        (0xffefffffffffffff, "-1.7976931348623157e+308"),
        (0x4340000000000000, "9007199254740992"),
        (0xc340000000000000, "-9007199254740992"),
        (0x4430000000000000, "295147905179352830000"),
        (0x44b52d02c7e14af5, "9.999999999999997e+22"),
        (0x44b52d02c7e14af6, "1e+23"),
        (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
        (0x444b1ae4d6e2ef4e, "999999999999999700000"),
        (0x444b1ae4d6e2ef4f, "999999999999999900000"),
        (0x444b1ae4d6e2ef50, "1e+21"),
        (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
        (0x3eb0c6f7a0b5ed8d, "0.000001"),
        (0x41b3de4355555553, "333333333.3333332"),
        (0x41b3de4355555554, "333333333.33333325"),
        (0x41b3de4355555555, "333333333.3333333"),
        (0x41b3de4355555556, "333333333.3333334"),
        (0x41b3de4355555557, "333333333.33333343"),
        (0xbecbf647612f3696, "-0.0000033333333333333333"),
        (0x43143ff3c1cb0959, "1424953923781206.2"),
        (0x3ff0000000000000, "1"),
    ];
    for (bits, text) in cases {
        let value = Value::from(f64::from_bits(bits));
        assert_eq!(
            String::from_utf8(canonical_bytes(&value)).unwrap(),
            text,
            "{bits:016x}"
        );
    }
}

#[test]
fn integers_are_written_as_the_doubles_they_are() {
    assert_eq!(
        canonical_bytes(&Value::from(9007199254740993_u64)),
        b"9007199254740992"
    );
    assert_eq!(canonical_bytes(&Value::from(-42_i64)), b"-42");
}

#[test]
fn claims_hash_is_the_hash_of_the_claims_array() {
    let claims = vec![serde_json::json!({"b": 1, "a": [0.5, "é"]}), Value::Null];
    assert_eq!(
        claims_hash(&claims),
        sha256_hex(r#"[{"a":[0.5,"é"],"b":1},null]"#.as_bytes())
    );
    assert_eq!(
        claims_hash(&[]),
        "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"
    );
}

/// Any JSON value: integers of every size, finite floats, strings with control characters,
/// non-BMP characters and characters near the surrogate range.
pub fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-(1_i64 << 53) + 1..(1_i64 << 53)).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        string().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((string(), inner), 0..8)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

pub fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        ".*",
        "[\\x00-\\x1f\"\\\\/a\\x7f]{0,6}",
        "[a\u{e000}-\u{e002}\u{fb33}\u{ffff}\u{10000}\u{1f600}\u{10ffff}]{0,4}",
    ]
}

/// Numbers compare by their double value (JCS writes 1.0 as 1 and -0 as 0).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// `value` as JSON text with the keys of every object in an order drawn from `seed`, and some
/// whitespace.
pub fn shuffled_text(value: &Value, seed: &mut u64) -> String {
    let mut next = || {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    };
    fn write(value: &Value, next: &mut dyn FnMut() -> u64, out: &mut String) {
        match value {
            Value::Array(items) => {
                out.push_str("[ ");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(" ,\n");
                    }
                    write(item, next, out);
                }
                out.push(']');
            }
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                for i in (1..entries.len()).rev() {
                    entries.swap(i, (next() % (i as u64 + 1)) as usize);
                }
                out.push('{');
                for (i, (k, v)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(k).unwrap());
                    out.push_str(" : ");
                    write(v, next, out);
                }
                out.push_str("}\t");
            }
            other => out.push_str(&serde_json::to_string(other).unwrap()),
        }
    }
    let mut out = String::new();
    write(value, &mut next, &mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// The writer produces the bytes of the `serde_json_canonicalizer` crate.
    #[test]
    fn same_bytes_as_the_reference_crate(value in json()) {
        let reference = serde_json_canonicalizer::to_vec(&value).unwrap();
        prop_assert_eq!(
            String::from_utf8(canonical_bytes(&value)).unwrap(),
            String::from_utf8(reference).unwrap()
        );
    }

    #[test]
    fn a_float_survives_the_plain_serialization_of_an_ar(x in any::<f64>()) {
        // The signer emits ARs with serde_json::to_string; a verifier parses that text again
        // and must get the very double that was signed.
        prop_assume!(x.is_finite());
        let text = serde_json::to_string(&Value::from(x)).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(back.as_f64().map(f64::to_bits), Some(x.to_bits()));
    }

    #[test]
    fn canonical_text_parses_back_to_the_same_value(value in json()) {
        let text = canonical_bytes(&value);
        let parsed: Value = serde_json::from_slice(&text).unwrap();
        prop_assert!(same(&parsed, &value));
    }

    #[test]
    fn canonicalization_is_idempotent(value in json()) {
        let once = canonical_bytes(&value);
        let parsed: Value = serde_json::from_slice(&once).unwrap();
        prop_assert_eq!(canonical_bytes(&parsed), once);
    }

    #[test]
    fn key_order_and_whitespace_do_not_matter(value in json(), seed in 1..u64::MAX) {
        let text = shuffled_text(&value, &mut { seed });
        let reparsed: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(canonical_bytes(&reparsed), canonical_bytes(&value));
    }

    #[test]
    fn canonical_text_has_no_insignificant_whitespace(value in json()) {
        // Outside strings, canonical text is exactly what serde_json writes compactly after
        // sorting keys, modulo number formatting; here: no whitespace byte outside strings.
        let text = String::from_utf8(canonical_bytes(&value)).unwrap();
        let mut in_string = false;
        let mut escaped = false;
        for c in text.chars() {
            if in_string {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => in_string = false,
                    _ => {}
                }
            } else {
                prop_assert!(!c.is_whitespace(), "whitespace in {}", text);
                in_string = c == '"';
            }
        }
    }

    #[test]
    fn every_finite_double_round_trips(bits in any::<u64>()) {
        let x = f64::from_bits(bits);
        prop_assume!(x.is_finite());
        let text = String::from_utf8(canonical_bytes(&Value::from(x))).unwrap();
        let back: f64 = text.parse().unwrap();
        prop_assert!(back == x, "{} -> {} -> {}", x, text, back);
    }
}
