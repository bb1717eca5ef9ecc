use ed25519_dalek::{Signer, SigningKey};
use serde_json::Value;
use std::time::Instant;

fn t<R>(name: &str, n: u32, mut f: impl FnMut() -> R) {
    for _ in 0..n / 10 {
        std::hint::black_box(f());
    }
    let s = Instant::now();
    for _ in 0..n {
        std::hint::black_box(f());
    }
    println!(
        "{name:<20} {:8.2} us",
        s.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}

fn main() {
    let v: Value = serde_json::from_str(include_str!("../tests/data/gateway_core.json")).unwrap();
    let core = v.to_string();
    let n = 20000;
    t("parse", n, || serde_json::from_str::<Value>(&core).unwrap());
    t("clone", n, || v.clone());
    t("jcs", n, || lucid_ar::canonical_bytes(&v));
    let bytes = lucid_ar::canonical_bytes(&v);
    t("sha256", n, || lucid_ar::sha256_hex(&bytes));
    let claims: Vec<Value> = v["phases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["claims"].as_array().unwrap().clone())
        .collect();
    t("claims_hash", n, || lucid_ar::claims_hash(&claims));
    let key = SigningKey::from_bytes(&[7; 32]);
    t("ed25519 sign", n, || key.sign(&bytes));
    t("to_string", n, || serde_json::to_string(&v).unwrap());
    let mut signer = lucid_ar::ChainSigner::new(&mut [7; 32], &"a".repeat(64)).unwrap();
    t("ChainSigner::sign", n, || signer.sign(&core).unwrap());
}
