//! Time of one sign (core JSON in, AR JSON out) in the component against the same code native,
//! and of one `verify_single`. A quick loop, not a benchmark harness: compare the numbers of one
//! run with each other.
//!
//! `cargo run --release -p lucid-receipt-it --example sign_timing`

use std::time::{Duration, Instant};

use lucid_ar::{ChainSigner, verify_single};
use lucid_receipt_it::{Runtime, sample_core};

const WARMUP: u64 = 200;
const RUNS: u64 = 3000;

fn median_us(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1e6
}

fn time(mut f: impl FnMut(u64)) -> f64 {
    for i in 0..WARMUP {
        f(i);
    }
    let samples = (WARMUP..WARMUP + RUNS)
        .map(|i| {
            let start = Instant::now();
            f(i);
            start.elapsed()
        })
        .collect();
    median_us(samples)
}

fn main() {
    let cores: Vec<String> = (0..WARMUP + RUNS)
        .map(|i| sample_core(i).to_string())
        .collect();

    let start = Instant::now();
    let runtime = Runtime::load();
    let compile = start.elapsed();
    let start = Instant::now();
    let mut component = runtime.instantiate(b"timing entropy, not for real use");
    component.init(&runtime.receipt_sha256).unwrap();
    let instantiate = start.elapsed();
    let wasm = time(|i| {
        component.sign(&cores[i as usize]).unwrap();
    });

    let mut native = ChainSigner::new(
        &mut b"timing entropy, not for real use".to_owned(),
        &runtime.receipt_sha256,
    )
    .unwrap();
    let native_us = time(|i| {
        native.sign(&cores[i as usize]).unwrap();
    });

    let ar: serde_json::Value = serde_json::from_str(&native.sign(&cores[0]).unwrap()).unwrap();
    let verify = time(|_| {
        verify_single(&ar).unwrap();
    });
    let ar_bytes = serde_json::to_string(&ar).unwrap().len();

    println!(
        "AR size: {ar_bytes} bytes; component compile {compile:?}, instantiate + init {instantiate:?}"
    );
    println!("sign, component (wasm32, wasmtime 48): {wasm:.1} us median of {RUNS}");
    println!("sign, native:                          {native_us:.1} us median of {RUNS}");
    println!(
        "ratio component / native:              {:.2}",
        wasm / native_us
    );
    println!("verify_single, native:                 {verify:.1} us median of {RUNS}");
}
