//! CPU per AR of the receipt signer: the core the running gateway signs (3.4 KB, see
//! `gateway_core`) through `ChainSigner::sign` natively and through the real component in an
//! engine configured like the host's sandbox (`host_config`). Rounds alternate between the
//! signers so that noise from other work on the machine hits them alike; compare the numbers of
//! one run with each other.
//!
//! `cargo run --release -p lucid-receipt-it --example sign_bench [-- COMPONENT.wasm ...]`
//! (default: the built artifact, `artifact_path()`). Several components are timed side by side.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lucid_ar::ChainSigner;
use lucid_receipt_it::{Runtime, artifact_path, gateway_core};

const ROUNDS: usize = 40;
const PER_ROUND: usize = 250;
const ENTROPY: &[u8; 32] = b"bench entropy, never for real!!!";
/// One `receipt_sha256` for every signer (not the components' own), so that all sign the same AR.
const RECEIPT_SHA256: &str = "5ad5d1f5c0b1e7a8f3c2d4e6b8a0c2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2b4c6";

struct Samples {
    name: String,
    times: Vec<Duration>,
}

impl Samples {
    fn report(&mut self, baseline: Option<f64>) -> f64 {
        self.times.sort();
        let n = self.times.len();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let median = us(self.times[n / 2]);
        let mean = self.times.iter().map(|d| us(*d)).sum::<f64>() / n as f64;
        let ratio = baseline.map_or(String::new(), |b| format!("  {:.2}x native", median / b));
        println!(
            "{:<48} median {median:7.1} us  p10 {:7.1}  p90 {:7.1}  mean {mean:7.1}{ratio}",
            self.name,
            us(self.times[n / 10]),
            us(self.times[n * 9 / 10]),
        );
        median
    }
}

fn main() {
    let paths: Vec<PathBuf> = {
        let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
        if args.is_empty() {
            vec![artifact_path()]
        } else {
            args
        }
    };
    let total = ROUNDS * PER_ROUND;
    let cores: Vec<String> = (0..total as u64 + 1)
        .map(|i| gateway_core(i).to_string())
        .collect();

    let mut components = Vec::new();
    for path in &paths {
        let bytes =
            std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let runtime = Runtime::from_bytes(&bytes);
        let mut signer = runtime.instantiate(ENTROPY);
        signer.init(RECEIPT_SHA256).unwrap();
        let name = format!(
            "component {} ({} KB)",
            path.file_name().unwrap_or_default().to_string_lossy(),
            bytes.len() / 1024
        );
        components.push((
            runtime,
            signer,
            Samples {
                name,
                times: Vec::new(),
            },
        ));
    }
    let mut native = ChainSigner::new(&mut ENTROPY.to_owned(), RECEIPT_SHA256).unwrap();
    let mut native_samples = Samples {
        name: "native ChainSigner::sign".into(),
        times: Vec::new(),
    };

    // Same key, same cores, same chain: every signer must produce the same AR.
    let reference = native.sign(&cores[total]).unwrap();
    for (_, signer, samples) in &mut components {
        let ar = signer.sign(&cores[total]).unwrap();
        assert_eq!(
            ar, reference,
            "{} signs other bytes than native",
            samples.name
        );
    }
    println!(
        "core {} bytes, AR {} bytes",
        cores[0].len(),
        reference.len()
    );

    let time = |samples: &mut Samples, sign: &mut dyn FnMut(&str) -> String, round: usize| {
        for core in &cores[round * PER_ROUND..(round + 1) * PER_ROUND] {
            let start = Instant::now();
            let ar = sign(core);
            samples.times.push(start.elapsed());
            std::hint::black_box(ar);
        }
    };
    for round in 0..ROUNDS {
        time(
            &mut native_samples,
            &mut |core| native.sign(core).unwrap(),
            round,
        );
        for (_, signer, samples) in &mut components {
            time(samples, &mut |core| signer.sign(core).unwrap(), round);
        }
    }
    // The first rounds warm caches and the allocator; keep them, they are a small share.
    let native_us = native_samples.report(None);
    for (_, _, samples) in &mut components {
        samples.report(Some(native_us));
    }
}
