//! The signer: what it adds, what it refuses, and resuming a previous chain.

use lucid_ar::{
    ChainSigner, FormatError, RESERVED_FIELDS, SignError, VerifyError, canonical_bytes,
    claims_hash, sha256_hex, verify_single,
};
use serde_json::{Value, json};

use crate::util::{RECEIPT_SHA256, core, hash_of, seed, signer};

fn sign(signer: &mut ChainSigner, core: &Value) -> Result<Value, SignError> {
    signer
        .sign(&core.to_string())
        .map(|ar| serde_json::from_str(&ar).unwrap())
}

#[test]
fn the_first_ar_is_a_genesis_with_every_field() {
    let mut s = signer(1);
    let ar = sign(&mut s, &core(0)).unwrap();
    assert_eq!(ar["chain_depth"], 0);
    assert_eq!(ar["ar_references"], json!([]));
    assert_eq!(ar["signer"]["public_key"], s.public_key());
    assert_eq!(ar["signer"]["receipt_sha256"], RECEIPT_SHA256);
    assert!(ar.get("splice").is_none());

    let all_claims: Vec<Value> = ar["phases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["claims"].as_array().unwrap().clone())
        .collect();
    assert_eq!(all_claims.len(), 9);
    assert_eq!(ar["claims_hash"], claims_hash(&all_claims));

    // ar_hash is the SHA-256 of the JCS bytes of everything else.
    let mut rest = ar.clone();
    rest.as_object_mut().unwrap().remove("ar_hash");
    rest.as_object_mut().unwrap().remove("signature");
    assert_eq!(ar["ar_hash"], sha256_hex(&canonical_bytes(&rest)));
    assert_eq!(ar["signature"].as_str().unwrap().len(), 128);

    let verified = verify_single(&ar).unwrap();
    assert_eq!(verified.ar_hash, hash_of(&ar));
    assert_eq!(verified.chain_depth, 0);
    assert_eq!(verified.previous_ar_hash, None);
}

#[test]
fn each_ar_references_the_previous_one() {
    let mut s = signer(1);
    assert_eq!(s.tip().next_depth, 0);
    let first = sign(&mut s, &core(0)).unwrap();
    assert_eq!(s.tip().next_depth, 1);
    assert_eq!(
        s.tip().previous_ar_hash.as_deref(),
        Some(hash_of(&first).as_str())
    );
    let second = sign(&mut s, &core(1)).unwrap();
    assert_eq!(second["chain_depth"], 1);
    assert_eq!(second["ar_references"], json!([hash_of(&first)]));
    verify_single(&second).unwrap();
}

#[test]
fn the_key_follows_rfc_8032() {
    // RFC 8032 section 7.1, test 1.
    let mut seed = [0u8; 32];
    hex::decode_to_slice(
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        &mut seed,
    )
    .unwrap();
    let s = ChainSigner::new(&mut seed, RECEIPT_SHA256).unwrap();
    assert_eq!(
        s.public_key(),
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );
    assert_eq!(seed, [0u8; 32], "the seed is zeroized");
    assert!(!format!("{s:?}").contains("9d61b19d"));
}

#[test]
fn receipt_sha256_must_be_lowercase_hex() {
    for bad in [
        "",
        "abc",
        &RECEIPT_SHA256.to_uppercase(),
        &format!("{RECEIPT_SHA256}0"),
    ] {
        assert_eq!(
            ChainSigner::new(&mut seed(1), bad).unwrap_err(),
            SignError::ReceiptHash
        );
    }
}

#[test]
fn a_core_with_a_reserved_field_is_refused() {
    let mut s = signer(1);
    sign(&mut s, &core(0)).unwrap();
    let tip = s.tip().clone();
    for field in RESERVED_FIELDS {
        let mut c = core(1);
        c[field] = json!(null);
        assert_eq!(
            sign(&mut s, &c).unwrap_err(),
            SignError::Core(FormatError::Reserved(field.into())),
            "{field}"
        );
        assert_eq!(*s.tip(), tip, "a refused core does not move the tip");
    }
}

#[test]
fn a_core_over_the_size_limit_is_refused_before_it_is_parsed() {
    let mut s = signer(1);
    let tip = s.tip().clone();
    let mut c = core(0);
    c["padding"] = "x".repeat(lucid_ar::MAX_CORE_BYTES).into();
    let text = c.to_string();
    assert_eq!(
        s.sign(&text).unwrap_err(),
        SignError::CoreTooLarge(text.len())
    );
    assert_eq!(*s.tip(), tip, "a refused core does not move the tip");
    c["padding"] = "x".repeat(1000).into();
    sign(&mut s, &c).unwrap();
}

#[test]
fn invalid_cores_are_refused_and_say_why() {
    type Edit = fn(&mut Value);
    let cases: &[(&str, Edit)] = &[
        ("field 'version' is missing", |c| {
            c.as_object_mut().unwrap().remove("version");
        }),
        ("unsupported version 'lucid-ar/2'", |c| {
            c["version"] = "lucid-ar/2".into()
        }),
        ("field 'request_id' must be a non-empty string", |c| {
            c["request_id"] = "".into()
        }),
        ("field 'timestamp' must be an rfc 3339", |c| {
            c["timestamp"] = "2026-01-02 03:04:05Z".into()
        }),
        ("field 'scope.agent' is missing", |c| {
            c["scope"].as_object_mut().unwrap().remove("agent");
        }),
        ("field 'phases[1].phase' must be one of", |c| {
            c["phases"][1]["phase"] = "later".into()
        }),
        (
            "field 'phases[0].claims[0].value' must be a number in 0..=1",
            |c| c["phases"][0]["claims"][0]["value"] = 1.5.into(),
        ),
        ("field 'phases[0].claims[1].value' must be a boolean", |c| {
            c["phases"][0]["claims"][1]["value"] = "no".into()
        }),
        (
            "field 'phases[1].claims[0].value' must be a non-negative integer",
            |c| c["phases"][1]["claims"][0]["value"] = (-1).into(),
        ),
        (
            "field 'phases[0].claims[2].confidence' must be a number in 0..=1",
            |c| c["phases"][0]["claims"][2]["confidence"] = 2.into(),
        ),
        ("field 'phases[0].claims[0].type' must be one of", |c| {
            c["phases"][0]["claims"][0]["type"] = "float".into()
        }),
        (
            "field 'phases[0].claims[0].auditor_sha256' must be 64 lowercase hex",
            |c| c["phases"][0]["claims"][0]["auditor_sha256"] = "ABC".into(),
        ),
        (
            "field 'phases[2].decision.effect' must be 'allow' or 'deny'",
            |c| c["phases"][2]["decision"]["effect"] = "maybe".into(),
        ),
        ("decision is 'allow' but phase 1 denies", |c| {
            c["phases"][1]["decision"]["effect"] = "deny".into()
        }),
        ("field 'policy_hash' must be 64 lowercase hex", |c| {
            c["policy_hash"] = "x".into()
        }),
        (
            "field 'measurements.auditors.pii' must be 64 lowercase hex",
            |c| c["measurements"]["auditors"]["pii"] = 1.into(),
        ),
        ("integer outside", |c| {
            c["phases"][0]["claims"][1]["metadata"]["big"] = (1_u64 << 60).into()
        }),
        ("does not match the claims in phases", |c| {
            c["claims_hash"] = "00".repeat(32).into()
        }),
    ];
    let mut s = signer(1);
    for (expected, edit) in cases {
        let mut c = core(0);
        edit(&mut c);
        let err = sign(&mut s, &c).unwrap_err().to_string();
        assert!(err.contains(expected), "expected '{expected}', got '{err}'");
        assert!(
            err.starts_with("core is not a valid lucid-ar/1 core: "),
            "{err}"
        );
    }
    assert_eq!(s.tip().next_depth, 0);
    for not_a_core in ["", "[]", "{", "null"] {
        assert!(s.sign(not_a_core).is_err());
    }
}

#[test]
fn a_deny_overall_may_come_from_the_host() {
    let mut s = signer(1);
    let mut c = core(0);
    c["decision"] = "deny".into();
    verify_single(&sign(&mut s, &c).unwrap()).unwrap();
}

#[test]
fn a_correct_claims_hash_in_the_core_is_kept() {
    let mut s = signer(1);
    let first = sign(&mut s, &core(0)).unwrap();
    let mut c = core(0);
    c["claims_hash"] = first["claims_hash"].clone();
    let second = sign(&mut s, &c).unwrap();
    assert_eq!(second["claims_hash"], first["claims_hash"]);
}

#[test]
fn unknown_fields_are_signed_and_kept() {
    let mut s = signer(1);
    let mut c = core(0);
    c["x_host"] = json!({"region": "eu"});
    let ar = sign(&mut s, &c).unwrap();
    verify_single(&ar).unwrap();
    let mut changed = ar.clone();
    changed["x_host"]["region"] = "us".into();
    assert!(matches!(
        verify_single(&changed),
        Err(VerifyError::ArHash { .. })
    ));
}

#[test]
fn resume_continues_the_previous_chain_with_a_splice() {
    let mut old = signer(1);
    sign(&mut old, &core(0)).unwrap();
    let last = sign(&mut old, &core(1)).unwrap();

    let mut new = signer(2);
    new.resume(&last.to_string()).unwrap();
    assert_eq!(new.tip().next_depth, 2);
    assert_eq!(
        new.tip().previous_ar_hash.as_deref(),
        Some(hash_of(&last).as_str())
    );
    let first = sign(&mut new, &core(2)).unwrap();
    assert_eq!(first["chain_depth"], 2);
    assert_eq!(first["ar_references"], json!([hash_of(&last)]));
    assert_eq!(
        first["splice"],
        json!({"previous_public_key": old.public_key(), "previous_ar_hash": hash_of(&last)})
    );
    let verified = verify_single(&first).unwrap();
    assert_eq!(
        verified.splice_previous_public_key.as_deref(),
        Some(old.public_key())
    );
    // Only the first AR of the new key carries the splice.
    assert!(sign(&mut new, &core(3)).unwrap().get("splice").is_none());
}

#[test]
fn resume_verifies_the_previous_ar() {
    let mut old = signer(1);
    let last = sign(&mut old, &core(0)).unwrap();

    let mut tampered = last.clone();
    tampered["chain_depth"] = 41.into();
    let mut new = signer(2);
    let err = new.resume(&tampered.to_string()).unwrap_err();
    assert!(matches!(err, SignError::Previous(_)), "{err}");
    assert!(
        err.to_string()
            .starts_with("the previous ar does not verify: "),
        "{err}"
    );

    let mut forged = last.clone();
    forged["signature"] = "00".repeat(64).into();
    assert!(matches!(
        new.resume(&forged.to_string()),
        Err(SignError::Previous(VerifyError::Signature))
    ));
    assert!(new.resume("not json").is_err());
    assert!(new.resume("{}").is_err());
    // Nothing was accepted: the chain is still fresh, and a valid resume still works.
    assert_eq!(new.tip().next_depth, 0);
    new.resume(&last.to_string()).unwrap();
}

#[test]
fn resume_is_allowed_once_before_the_first_sign() {
    let mut old = signer(1);
    let last = sign(&mut old, &core(0)).unwrap().to_string();

    let mut new = signer(2);
    new.resume(&last).unwrap();
    assert_eq!(new.resume(&last), Err(SignError::ResumeTooLate));

    let mut busy = signer(3);
    sign(&mut busy, &core(0)).unwrap();
    assert_eq!(busy.resume(&last), Err(SignError::ResumeTooLate));
}

#[test]
fn resume_refuses_an_ar_of_its_own_key() {
    let mut old = signer(1);
    let last = sign(&mut old, &core(0)).unwrap().to_string();
    let mut same_key = signer(1);
    assert_eq!(same_key.resume(&last), Err(SignError::PreviousSameKey));
}

#[test]
fn every_ar_carries_the_binding_hash_of_its_own_fields() {
    let mut s = signer(1);
    let mut c = core(0);
    c["measurements"]["config_hash"] = json!("c".repeat(64));
    c["measurements"]["host_sha256"] = json!("d".repeat(64));
    let ar = sign(&mut s, &c).unwrap();
    let binding = lucid_ar::binding_of(ar.as_object().unwrap()).unwrap();
    assert_eq!(binding["receipt_public_key"], s.public_key());
    assert_eq!(binding["receipt_sha256"], RECEIPT_SHA256);
    assert_eq!(binding["auditors"], c["measurements"]["auditors"]);
    assert_eq!(binding["policy_hash"], c["policy_hash"]);
    assert_eq!(binding["config_hash"], "c".repeat(64));
    assert_eq!(binding["host_sha256"], "d".repeat(64));
    let hash = sha256_hex(&canonical_bytes(&binding));
    assert_eq!(ar["binding_hash"], hash);
    assert_eq!(verify_single(&ar).unwrap().binding_hash, Some(hash));

    // A binding_hash that does not match the AR's fields fails, even correctly signed.
    let key = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let mut forged = ar.clone();
    forged["binding_hash"] = json!("0".repeat(64));
    forged["signer"]["public_key"] = json!(hex::encode(key.verifying_key().to_bytes()));
    let object = forged.as_object_mut().unwrap();
    let bytes = lucid_ar::signing_bytes(object);
    use ed25519_dalek::Signer as _;
    object.insert("ar_hash".into(), json!(sha256_hex(&bytes)));
    object.insert(
        "signature".into(),
        json!(hex::encode(key.sign(&bytes).to_bytes())),
    );
    assert!(
        matches!(verify_single(&forged), Err(VerifyError::BindingHash { .. })),
        "{:?}",
        verify_single(&forged)
    );

    // The next AR under another binding carries that binding's hash, the one after the same.
    let mut other = core(2);
    other["measurements"]["config_hash"] = json!("e".repeat(64));
    for _ in 0..2 {
        let next = sign(&mut s, &other).unwrap();
        let binding = lucid_ar::binding_of(next.as_object().unwrap()).unwrap();
        assert_eq!(next["binding_hash"], sha256_hex(&canonical_bytes(&binding)));
        assert_ne!(next["binding_hash"], ar["binding_hash"]);
    }

    // A measurement that is not a hash is refused.
    let mut bad = core(1);
    bad["measurements"]["config_hash"] = json!("nope");
    assert!(matches!(
        sign(&mut s, &bad),
        Err(SignError::Core(FormatError::Invalid { .. }))
    ));
}
