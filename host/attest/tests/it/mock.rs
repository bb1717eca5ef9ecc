use lucid_attest::{
    MockProvider, Mode, Provider, REPORT_DATA_OFFSET, REPORT_LEN, Roots, VerdictMode, VerifyInput,
    report_data, verify,
};

use crate::failed;

struct Mock {
    _dir: tempfile::TempDir,
    provider: MockProvider,
}

fn mock() -> Mock {
    let dir = tempfile::tempdir().unwrap();
    let provider = MockProvider::open(dir.path()).unwrap();
    Mock {
        _dir: dir,
        provider,
    }
}

fn verify_mock(
    m: &Mock,
    report: &[u8],
    binding: Option<[u8; 32]>,
    nonce: Option<[u8; 32]>,
    allow_mock: bool,
) -> lucid_attest::Verdict {
    let c = m.provider.certificates();
    verify(&VerifyInput {
        report,
        vcek: c.vcek.as_deref().unwrap().as_bytes(),
        roots: Roots::Explicit {
            ark: c.ark.as_deref().unwrap().as_bytes(),
            ask: c.ask.as_deref().unwrap().as_bytes(),
        },
        binding_hash: binding,
        nonce,
        allow_mock,
        measurement: None,
    })
}

#[test]
fn mock_report_verifies_only_with_allow_mock() {
    let m = mock();
    assert_eq!(m.provider.mode(), Mode::Mock);
    let binding = [7u8; 32];
    let nonce = [9u8; 32];
    let ev = m.provider.report(&report_data(&binding, &nonce)).unwrap();
    assert_eq!(ev.report.len(), REPORT_LEN);

    let v = verify_mock(&m, &ev.report, Some(binding), Some(nonce), true);
    assert!(v.ok, "failed: {:?}\n{v:#?}", failed(&v));
    assert_eq!(v.mode, VerdictMode::Mock);
    assert!(v.warnings.iter().any(|w| w.contains("mock")));
    assert!(v.check("vcek_tcb_matches_reported_tcb").unwrap().ok);
    assert!(v.check("vcek_hwid_matches_chip_id").unwrap().ok);
    assert!(!v.report.as_ref().unwrap().debug);

    let v = verify_mock(&m, &ev.report, Some(binding), Some(nonce), false);
    assert!(!v.ok);
    assert_eq!(v.mode, VerdictMode::Mock);
    assert_eq!(failed(&v), ["root_is_amd"]);
}

#[test]
fn mock_report_fails_against_amd_roots() {
    let m = mock();
    let ev = m.provider.report(&[0; 64]).unwrap();
    let v = verify(&VerifyInput {
        report: &ev.report,
        vcek: m
            .provider
            .certificates()
            .vcek
            .as_deref()
            .unwrap()
            .as_bytes(),
        roots: Roots::Product(lucid_attest::Product::Milan),
        binding_hash: None,
        nonce: None,
        allow_mock: true,
        measurement: None,
    });
    assert!(!v.ok);
    assert!(!v.check("vcek_signed_by_ask").unwrap().ok);
}

#[test]
fn mock_report_data_check() {
    let m = mock();
    let binding = [1u8; 32];
    let ev = m.provider.report(&report_data(&binding, &[0; 32])).unwrap();
    assert_eq!(
        &ev.report[REPORT_DATA_OFFSET..REPORT_DATA_OFFSET + 32],
        &binding
    );
    assert!(
        verify_mock(&m, &ev.report, Some(binding), None, true).ok,
        "zero nonce expected when none given"
    );
    let v = verify_mock(&m, &ev.report, Some([2u8; 32]), None, true);
    assert_eq!(failed(&v), ["report_data_matches"]);
    let v = verify_mock(&m, &ev.report, Some(binding), Some([3u8; 32]), true);
    assert_eq!(failed(&v), ["report_data_matches"]);
}

#[test]
fn mock_report_fails_on_any_one_bit_change() {
    let m = mock();
    let ev = m.provider.report(&report_data(&[5; 32], &[6; 32])).unwrap();
    for pos in
        (0..REPORT_LEN)
            .step_by(7)
            .chain([REPORT_DATA_OFFSET, 0x90, 0x180, 0x1A0, 0x2A0, 0x2E8])
    {
        let mut r = ev.report.clone();
        r[pos] ^= 1 << (pos % 8);
        assert!(
            !verify_mock(&m, &r, None, None, true).ok,
            "flip at {pos:#x} went unnoticed"
        );
    }
}

#[test]
fn mock_chain_persists_across_opens() {
    let dir = tempfile::tempdir().unwrap();
    let first = MockProvider::open(dir.path()).unwrap();
    let second = MockProvider::open(dir.path()).unwrap();
    assert_eq!(first.certificates(), second.certificates());
    // A report from the second verifies under the chain handed out by the first.
    let ev = second.report(&[4; 64]).unwrap();
    let c = first.certificates();
    let v = verify(&VerifyInput {
        report: &ev.report,
        vcek: c.vcek.as_deref().unwrap().as_bytes(),
        roots: Roots::Explicit {
            ark: c.ark.as_deref().unwrap().as_bytes(),
            ask: c.ask.as_deref().unwrap().as_bytes(),
        },
        binding_hash: None,
        nonce: None,
        allow_mock: true,
        measurement: None,
    });
    assert!(v.ok, "failed: {:?}", failed(&v));
}

#[test]
fn a_different_mock_chain_does_not_verify_another_ones_report() {
    let (a, b) = (mock(), mock());
    let ev = a.provider.report(&[0; 64]).unwrap();
    let v = verify_mock(&b, &ev.report, None, None, true);
    assert!(!v.ok);
    assert!(!v.check("report_signed_by_vcek").unwrap().ok);
}
