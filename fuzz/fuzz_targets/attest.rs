//! SEV-SNP reports and certificates (`lucid-attest`), from arbitrary bytes: the first 0x4A0 bytes
//! are the report, the rest a certificate, given as DER, as PEM and as the ARK/ASK of an explicit
//! chain. Checked beyond "no panic": against AMD's Milan roots and the genuine Milan VCEK, only
//! the genuine report itself verifies (no forged or altered report passes).

#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use lucid_attest::{Product, REPORT_LEN, Roots, VerifyInput, verify};

const MILAN_REPORT: &[u8] = include_bytes!("../../host/attest/tests/data/milan_report.bin");
const MILAN_VCEK: &[u8] = include_bytes!("../../host/attest/tests/data/milan_vcek.der");

fuzz_target!(|input: &[u8]| {
    let (report, cert) = input.split_at(input.len().min(REPORT_LEN));
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        base64::engine::general_purpose::STANDARD.encode(cert)
    );
    let run = |report: &[u8], vcek: &[u8], roots, allow_mock| {
        let v = verify(&VerifyInput {
            report,
            vcek,
            roots,
            binding_hash: Some([0; 32]),
            nonce: None,
            allow_mock,
            measurement: None,
        });
        assert_eq!(v.ok, !v.checks.is_empty() && v.checks.iter().all(|c| c.ok));
        v
    };

    let genuine = run(report, MILAN_VCEK, Roots::Product(Product::Milan), false);
    if genuine
        .checks
        .iter()
        .any(|c| c.name == "report_signed_by_vcek" && c.ok)
    {
        assert_eq!(
            report, MILAN_REPORT,
            "an altered report verified under the genuine vcek"
        );
    }
    for vcek in [cert, pem.as_bytes()] {
        run(report, vcek, Roots::Product(Product::Milan), false);
        run(MILAN_REPORT, vcek, Roots::Product(Product::Milan), false);
        run(
            report,
            MILAN_VCEK,
            Roots::Explicit {
                ark: vcek,
                ask: vcek,
            },
            true,
        );
        run(
            report,
            vcek,
            Roots::Explicit {
                ark: vcek,
                ask: vcek,
            },
            true,
        );
    }
});
