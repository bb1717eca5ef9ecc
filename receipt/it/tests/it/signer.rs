use ed25519_dalek::SigningKey;
use lucid_ar::{verify_chain, verify_single};
use lucid_receipt_it::{Runtime, Signer, sample_core};
use serde_json::Value;

const ENTROPY_A: [u8; 32] = *b"entropy for the first signer  A!";
const ENTROPY_B: [u8; 32] = *b"entropy for the restarted one  B";

fn started(runtime: &Runtime, entropy: &[u8; 32]) -> Signer {
    let mut signer = runtime.instantiate(entropy);
    signer.init(&runtime.receipt_sha256).unwrap();
    signer
}

fn sign_many(signer: &mut Signer, first: u64, count: u64) -> Vec<String> {
    (first..first + count)
        .map(|i| signer.sign(&sample_core(i).to_string()).unwrap())
        .collect()
}

fn parse(ars: &[String]) -> Vec<Value> {
    ars.iter()
        .map(|a| serde_json::from_str(a).unwrap())
        .collect()
}

/// 100 ARs from one instance, a restart that resumes from the last one, 10 more: one chain.
/// Also writes it as JSONL for the Python verifier test.
pub fn signed_chain(runtime: &Runtime) -> Vec<String> {
    let mut first = started(runtime, &ENTROPY_A);
    let mut ars = sign_many(&mut first, 0, 100);
    let mut second = started(runtime, &ENTROPY_B);
    second.resume(ars.last().unwrap()).unwrap();
    ars.extend(sign_many(&mut second, 100, 10));
    ars
}

#[test]
fn a_hundred_ars_then_a_restart_form_one_verified_chain() {
    let runtime = Runtime::load();
    let mut first = started(&runtime, &ENTROPY_A);
    assert_eq!(
        first.host().entropy_calls,
        [32],
        "init draws one 32-byte seed"
    );
    let ars = sign_many(&mut first, 0, 100);
    let tip = first.tip();
    assert_eq!(tip.next_depth, 100);

    let parsed = parse(&ars);
    let report = verify_chain(&parsed);
    assert!(report.valid, "{report:?}");
    assert_eq!(report.chain_depth, Some(99));
    assert_eq!(report.length, 100);
    assert_eq!(tip.previous_ar_hash, report.tip);
    for ar in &parsed {
        assert_eq!(ar["signer"]["receipt_sha256"], runtime.receipt_sha256);
    }

    // Restart: a new instance, a new key, resumed from the last stored AR.
    let mut second = started(&runtime, &ENTROPY_B);
    assert_eq!(second.tip().next_depth, 0);
    second.resume(ars.last().unwrap()).unwrap();
    assert_eq!(second.tip().next_depth, 100);
    let more = sign_many(&mut second, 100, 10);
    let mut all = parsed;
    all.extend(parse(&more));
    let report = verify_chain(&all);
    assert!(report.valid, "{report:?}");
    assert_eq!(report.chain_depth, Some(109));
    assert_eq!(report.splices.len(), 1);
    let splice = &report.splices[0];
    assert_eq!(splice.chain_depth, 100);
    assert_eq!(splice.previous_public_key, first.public_key().unwrap());
    assert_eq!(splice.public_key, second.public_key().unwrap());
    assert_ne!(splice.previous_public_key, splice.public_key);
}

#[test]
fn the_key_comes_from_the_entropy_import_and_never_leaves() {
    let runtime = Runtime::load();
    let mut signer = started(&runtime, &ENTROPY_A);
    let expected = SigningKey::from_bytes(&ENTROPY_A);
    assert_eq!(
        signer.public_key().unwrap(),
        hex::encode(expected.verifying_key().as_bytes())
    );
    // No output of any function contains the seed, in hex or raw.
    let secret_hex = hex::encode(ENTROPY_A);
    let secret_raw = String::from_utf8_lossy(&ENTROPY_A).into_owned();
    let mut outputs = sign_many(&mut signer, 0, 3);
    outputs.push(signer.public_key().unwrap());
    outputs.push(format!("{:?}", signer.tip()));
    outputs.push(signer.sign("{}").unwrap_err());
    outputs.push(signer.resume("{}").unwrap_err());
    outputs.push(signer.init(&runtime.receipt_sha256).unwrap_err());
    for out in outputs {
        assert!(
            !out.contains(&secret_hex) && !out.contains(&secret_raw),
            "{out}"
        );
    }
}

#[test]
fn a_tampered_previous_ar_is_refused_by_resume() {
    let runtime = Runtime::load();
    let mut first = started(&runtime, &ENTROPY_A);
    let ars = sign_many(&mut first, 0, 3);
    let mut tampered: Value = serde_json::from_str(&ars[2]).unwrap();
    tampered["chain_depth"] = 1000.into();

    let mut second = started(&runtime, &ENTROPY_B);
    let err = second.resume(&tampered.to_string()).unwrap_err();
    assert!(
        err.starts_with("the previous ar does not verify: ar_hash"),
        "{err}"
    );
    let mut forged: Value = serde_json::from_str(&ars[2]).unwrap();
    forged["signature"] = "ab".repeat(64).into();
    let err = second.resume(&forged.to_string()).unwrap_err();
    assert!(err.contains("signature does not verify"), "{err}");
    // Nothing was accepted.
    assert_eq!(second.tip().next_depth, 0);
    assert_eq!(second.tip().previous_ar_hash, None);
}

#[test]
fn resume_is_only_allowed_before_the_first_sign_and_once() {
    let runtime = Runtime::load();
    let mut first = started(&runtime, &ENTROPY_A);
    let ars = sign_many(&mut first, 0, 2);
    assert!(first.resume(&ars[1]).is_err(), "resume after sign");

    let mut second = started(&runtime, &ENTROPY_B);
    second.resume(&ars[1]).unwrap();
    let err = second.resume(&ars[1]).unwrap_err();
    assert_eq!(err, "resume is only allowed once, before the first sign");

    // An instance with the same key (same entropy) may not resume its own chain.
    let mut same = started(&runtime, &ENTROPY_A);
    let err = same.resume(&ars[1]).unwrap_err();
    assert_eq!(err, "the previous ar was signed by this signer's own key");
}

#[test]
fn a_core_with_a_reserved_field_is_refused() {
    let runtime = Runtime::load();
    let mut signer = started(&runtime, &ENTROPY_A);
    sign_many(&mut signer, 0, 1);
    let tip = signer.tip();
    for field in lucid_ar::RESERVED_FIELDS {
        let mut core = sample_core(1);
        core[field] = Value::from("x");
        let err = signer.sign(&core.to_string()).unwrap_err();
        assert_eq!(
            err,
            format!(
                "core is not a valid lucid-ar/1 core: field '{field}' is reserved for the signer and must not be in the core"
            )
        );
    }
    let after = signer.tip();
    assert_eq!(
        (after.next_depth, after.previous_ar_hash),
        (tip.next_depth, tip.previous_ar_hash)
    );
}

#[test]
fn calls_before_init_and_a_second_init_are_refused() {
    let runtime = Runtime::load();
    let mut signer = runtime.instantiate(&ENTROPY_A);
    assert_eq!(signer.tip().next_depth, 0);
    let not_init = "the signer is not initialised; call init first";
    assert_eq!(signer.public_key().unwrap_err(), not_init);
    assert_eq!(
        signer.sign(&sample_core(0).to_string()).unwrap_err(),
        not_init
    );
    assert_eq!(signer.resume("{}").unwrap_err(), not_init);
    assert!(signer.host().entropy_calls.is_empty());

    assert!(signer.init("not a hash").is_err());
    signer.init(&runtime.receipt_sha256).unwrap();
    assert_eq!(
        signer.init(&runtime.receipt_sha256).unwrap_err(),
        "the signer is already initialised"
    );
    assert_eq!(
        signer.host().entropy_calls.len(),
        2,
        "one draw per init attempt"
    );
}

#[test]
fn a_constant_entropy_source_is_refused() {
    let runtime = Runtime::load();
    let mut signer = runtime.instantiate(&[0]);
    let err = signer.init(&runtime.receipt_sha256).unwrap_err();
    assert!(err.starts_with("the entropy source returned"), "{err}");
    assert!(signer.public_key().is_err());
}

#[test]
fn every_ar_verifies_on_its_own() {
    let runtime = Runtime::load();
    let mut signer = started(&runtime, &ENTROPY_A);
    for ar in parse(&sign_many(&mut signer, 0, 5)) {
        verify_single(&ar).unwrap();
    }
}
