//! Chains and cores for the tests.

use ed25519_dalek::{Signer as _, SigningKey};
use lucid_ar::{ChainReport, ChainSigner, sha256_hex, signing_bytes};
use serde_json::Value;

pub const RECEIPT_SHA256: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A realistic core (about 2.7 KB); `i` varies the request and a few values.
pub fn core(i: u64) -> Value {
    let mut core: Value = serde_json::from_str(include_str!("../data/core.json")).unwrap();
    core["request_id"] = format!("req-{i:06}").into();
    core["timestamp"] = format!(
        "2026-01-02T03:{:02}:{:02}.{:03}Z",
        i / 60 % 60,
        i % 60,
        i % 1000
    )
    .into();
    core["phases"][0]["claims"][0]["value"] = ((i % 100) as f64 / 100.0).into();
    core["phases"][1]["claims"][1]["value"] = (i * 7).into();
    core
}

/// A deterministic seed per test key.
pub fn seed(n: u8) -> [u8; 32] {
    let mut seed = [0u8; 32];
    hex::decode_to_slice(sha256_hex(&[b's', n]), &mut seed).unwrap();
    seed
}

pub fn signer(n: u8) -> ChainSigner {
    ChainSigner::new(&mut seed(n), RECEIPT_SHA256).unwrap()
}

/// `count` ARs signed by `signer`, starting at request `first`.
pub fn sign_many(signer: &mut ChainSigner, first: u64, count: u64) -> Vec<Value> {
    (first..first + count)
        .map(|i| {
            let ar = signer.sign(&core(i).to_string()).unwrap();
            serde_json::from_str(&ar).unwrap()
        })
        .collect()
}

/// A genesis chain of `len` ARs by key 1.
pub fn chain(len: u64) -> Vec<Value> {
    sign_many(&mut signer(1), 0, len)
}

/// `first` ARs by key 1, then (a restart) `second` ARs by key 2 spliced onto them.
pub fn spliced_chain(first: u64, second: u64) -> Vec<Value> {
    let mut ars = chain(first);
    let mut next = signer(2);
    next.resume(&ars.last().unwrap().to_string()).unwrap();
    ars.extend(sign_many(&mut next, first, second));
    ars
}

/// Recomputes `ar_hash` and signs `ar` again with key `n`, as a holder of that key could after
/// changing it.
pub fn resign(ar: &mut Value, n: u8) {
    let key = SigningKey::from_bytes(&seed(n));
    ar["signer"]["public_key"] = hex::encode(key.verifying_key().as_bytes()).into();
    let bytes = signing_bytes(ar.as_object().unwrap());
    ar["ar_hash"] = sha256_hex(&bytes).into();
    ar["signature"] = hex::encode(key.sign(&bytes).to_bytes()).into();
}

pub fn hash_of(ar: &Value) -> String {
    ar["ar_hash"].as_str().unwrap().to_owned()
}

/// Whether the report has an error naming the AR at `index` whose reason contains `reason`.
pub fn names(report: &ChainReport, index: usize, reason: &str) -> bool {
    report
        .errors
        .iter()
        .any(|e| e.index == index && e.reason.contains(reason))
}
