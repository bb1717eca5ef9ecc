//! Integration tests of lucid-attest: a genuine AMD Milan report (tests/data, see SOURCE.md) and
//! the mock chain, through the one `verify` code path.

mod genuine;
mod mock;

use lucid_attest::{Product, Roots, Verdict, VerifyInput, verify};

pub const MILAN_REPORT: &[u8] = include_bytes!("../data/milan_report.bin");
pub const MILAN_VCEK: &[u8] = include_bytes!("../data/milan_vcek.der");

pub fn verify_milan(report: &[u8], product: Product) -> Verdict {
    verify(&VerifyInput {
        report,
        vcek: MILAN_VCEK,
        roots: Roots::Product(product),
        binding_hash: None,
        nonce: None,
        allow_mock: false,
        measurement: None,
    })
}

/// Names of the failed checks, for assertion messages.
pub fn failed(v: &Verdict) -> Vec<&'static str> {
    v.checks.iter().filter(|c| !c.ok).map(|c| c.name).collect()
}
