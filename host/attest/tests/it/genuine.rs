use lucid_attest::{
    Product, REPORT_DATA_OFFSET, REPORT_LEN, Roots, SIGNATURE_OFFSET, VerdictMode, VerifyInput,
    verify,
};

use crate::{MILAN_REPORT, MILAN_VCEK, failed, verify_milan};

#[test]
fn genuine_milan_report_verifies_against_amd_roots() {
    assert_eq!(MILAN_REPORT.len(), REPORT_LEN);
    let v = verify_milan(MILAN_REPORT, Product::Milan);
    assert!(v.ok, "failed: {:?}\n{v:#?}", failed(&v));
    assert_eq!(v.mode, VerdictMode::Hardware);
    for name in [
        "report_well_formed",
        "certificates_parse",
        "ark_self_signed",
        "ask_signed_by_ark",
        "vcek_signed_by_ask",
        "root_is_amd",
        "report_signed_by_vcek",
        "vcek_tcb_matches_reported_tcb",
        "vcek_hwid_matches_chip_id",
    ] {
        assert!(v.check(name).is_some_and(|c| c.ok), "{name}");
    }
    let summary = v.report.as_ref().unwrap();
    assert_eq!(summary.version, 2);
    assert!(!summary.debug);
}

#[test]
fn genuine_report_verifies_with_pem_vcek_and_explicit_amd_roots() {
    let vcek_pem = pem("CERTIFICATE", MILAN_VCEK);
    let ark = sev::certs::snp::builtin::milan::ARK;
    let ask = sev::certs::snp::builtin::milan::ASK;
    let v = verify(&VerifyInput {
        report: MILAN_REPORT,
        vcek: vcek_pem.as_bytes(),
        roots: Roots::Explicit { ark, ask },
        binding_hash: None,
        nonce: None,
        allow_mock: false,
        measurement: None,
    });
    assert!(v.ok, "failed: {:?}", failed(&v));
    assert_eq!(v.mode, VerdictMode::Hardware);
}

#[test]
fn genuine_report_fails_with_the_wrong_product() {
    for product in [Product::Genoa, Product::Turin] {
        let v = verify_milan(MILAN_REPORT, product);
        assert!(!v.ok, "{product}");
        assert!(!v.check("vcek_signed_by_ask").unwrap().ok, "{product}");
    }
}

#[test]
fn genuine_report_fails_with_a_turin_vcek() {
    let v = verify(&VerifyInput {
        report: MILAN_REPORT,
        vcek: include_bytes!("../data/turin_vcek.der"),
        roots: Roots::Product(Product::Turin),
        binding_hash: None,
        nonce: None,
        allow_mock: false,
        measurement: None,
    });
    assert!(!v.ok);
    assert!(
        v.check("vcek_signed_by_ask").unwrap().ok,
        "the turin vcek chains to turin's roots"
    );
    assert!(!v.check("report_signed_by_vcek").unwrap().ok);
}

fn flipped(pos: usize, bit: u8) -> Vec<u8> {
    let mut r = MILAN_REPORT.to_vec();
    r[pos] ^= 1 << bit;
    r
}

#[test]
fn one_bit_flips_at_named_fields_fail() {
    let positions = [
        ("version", 0x00),
        ("policy", 0x08),
        ("report_data", REPORT_DATA_OFFSET),
        ("report_data end", REPORT_DATA_OFFSET + 63),
        ("measurement", 0x90),
        ("host_data", 0xC0),
        ("reported_tcb bootloader", 0x180),
        ("reported_tcb reserved", 0x183),
        ("reported_tcb microcode", 0x187),
        ("chip_id", 0x1A0),
        ("chip_id end", 0x1DF),
        ("signature r", SIGNATURE_OFFSET),
        ("signature r high byte", SIGNATURE_OFFSET + 60),
        ("signature s", SIGNATURE_OFFSET + 72),
        ("signature reserved", SIGNATURE_OFFSET + 200),
        ("last byte", REPORT_LEN - 1),
    ];
    for (field, pos) in positions {
        for bit in [0, 7] {
            let v = verify_milan(&flipped(pos, bit), Product::Milan);
            assert!(
                !v.ok,
                "flip of bit {bit} at {pos:#x} ({field}) went unnoticed"
            );
        }
    }
}

#[test]
fn every_byte_position_detects_a_flip() {
    // One bit per byte, rotating, over the whole report: every byte is covered by the signature,
    // a zero-check or the parser.
    for pos in 0..REPORT_LEN {
        let v = verify_milan(&flipped(pos, (pos % 8) as u8), Product::Milan);
        assert!(!v.ok, "flip at {pos:#x} went unnoticed");
    }
}

#[test]
fn report_data_check_passes_and_fails() {
    let actual: [u8; 64] = MILAN_REPORT[REPORT_DATA_OFFSET..REPORT_DATA_OFFSET + 64]
        .try_into()
        .unwrap();
    let binding: [u8; 32] = actual[..32].try_into().unwrap();
    let nonce: [u8; 32] = actual[32..].try_into().unwrap();
    let run = |binding_hash, nonce| {
        verify(&VerifyInput {
            report: MILAN_REPORT,
            vcek: MILAN_VCEK,
            roots: Roots::Product(Product::Milan),
            binding_hash,
            nonce,
            allow_mock: false,
            measurement: None,
        })
    };
    let v = run(Some(binding), Some(nonce));
    assert!(v.ok && v.check("report_data_matches").unwrap().ok);
    let v = run(None, Some(nonce));
    assert!(v.ok && v.check("report_data_matches").unwrap().ok);

    let mut wrong = binding;
    wrong[0] ^= 1;
    let v = run(Some(wrong), Some(nonce));
    assert!(!v.ok && !v.check("report_data_matches").unwrap().ok);
    let mut wrong_nonce = nonce;
    wrong_nonce[31] ^= 1;
    assert!(!run(Some(binding), Some(wrong_nonce)).ok);
    assert!(!run(None, Some(wrong_nonce)).ok);
}

#[test]
fn truncated_and_padded_reports_fail_cleanly() {
    for len in [0, 1, REPORT_LEN - 1] {
        let v = verify_milan(&MILAN_REPORT[..len], Product::Milan);
        assert!(!v.ok && !v.check("report_well_formed").unwrap().ok);
    }
    let mut long = MILAN_REPORT.to_vec();
    long.push(0);
    assert!(!verify_milan(&long, Product::Milan).ok);
}

#[test]
fn verdict_serialises_as_json() {
    let v = verify_milan(MILAN_REPORT, Product::Milan);
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["mode"], "hardware");
    assert!(
        json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true)
    );
    assert_eq!(json["report"]["chip_id"].as_str().unwrap().len(), 128);
}

fn pem(label: &str, der: &[u8]) -> String {
    use std::fmt::Write as _;
    let b64 = base64_encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        let _ = writeln!(out, "{}", std::str::from_utf8(chunk).unwrap());
    }
    let _ = writeln!(out, "-----END {label}-----");
    out
}

fn base64_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn the_launch_measurement_is_checked_when_given_and_said_unchecked_when_not() {
    let unchecked = verify_milan(MILAN_REPORT, Product::Milan);
    assert!(
        unchecked
            .warnings
            .iter()
            .any(|w| w.contains("launch measurement") && w.contains("not checked")),
        "{:?}",
        unchecked.warnings
    );
    let mut actual = [0u8; 48];
    hex::decode_to_slice(&unchecked.report.as_ref().unwrap().measurement, &mut actual).unwrap();
    let with = |measurement| {
        verify(&VerifyInput {
            report: MILAN_REPORT,
            vcek: MILAN_VCEK,
            roots: Roots::Product(Product::Milan),
            binding_hash: None,
            nonce: None,
            allow_mock: false,
            measurement: Some(measurement),
        })
    };
    let right = with(actual);
    assert!(right.ok, "failed: {:?}", failed(&right));
    assert!(right.check("measurement_matches").is_some_and(|c| c.ok));
    assert!(
        !right
            .warnings
            .iter()
            .any(|w| w.contains("launch measurement"))
    );
    let mut other = actual;
    other[47] ^= 1;
    let wrong = with(other);
    assert!(!wrong.ok);
    assert!(!wrong.check("measurement_matches").unwrap().ok);
}
