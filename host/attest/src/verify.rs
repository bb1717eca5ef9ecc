//! Verification of a report against its VCEK and a root of trust: one code path for genuine and
//! mock reports. Each step is a named [`Check`]; the verdict is ok only if every check is.

use serde::Serialize;
use sev::certs::snp::{Certificate, Verifiable as _};
use sev::firmware::guest::AttestationReport;
use sev::parser::ByteParser as _;

use crate::certs::{self, VcekExtensions};
use crate::{AttestError, REPORT_LEN, SIGNATURE_OFFSET};

/// The AMD EPYC generations whose built-in ARK/ASK the `sev` crate carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Product {
    Milan,
    Genoa,
    Turin,
}

impl Product {
    pub const ALL: [Product; 3] = [Product::Milan, Product::Genoa, Product::Turin];

    pub fn as_str(self) -> &'static str {
        match self {
            Product::Milan => "milan",
            Product::Genoa => "genoa",
            Product::Turin => "turin",
        }
    }
}

impl std::fmt::Display for Product {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Product {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Product::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown product '{s}'; expected milan, genoa or turin"))
    }
}

/// The root of trust the VCEK must chain to.
#[derive(Clone, Copy, Debug)]
pub enum Roots<'a> {
    /// AMD's ARK and ASK for the product, built into the `sev` crate.
    Product(Product),
    /// An ARK and ASK given by the caller (DER or PEM). If the ARK is not one of AMD's built-in
    /// roots the chain is treated as a mock chain.
    Explicit { ark: &'a [u8], ask: &'a [u8] },
}

/// What to verify.
#[derive(Clone, Copy, Debug)]
pub struct VerifyInput<'a> {
    /// The raw report ([`REPORT_LEN`] bytes).
    pub report: &'a [u8],
    /// The VCEK certificate, DER or PEM.
    pub vcek: &'a [u8],
    pub roots: Roots<'a>,
    /// Expected first half of report_data; the second half is then `nonce` (zeros when `None`).
    pub binding_hash: Option<[u8; 32]>,
    /// Expected second half of report_data (checked alone when no binding hash is given).
    pub nonce: Option<[u8; 32]>,
    /// Accept a chain whose ARK is not AMD's (the verdict then says `mode: mock`).
    pub allow_mock: bool,
    /// The expected launch measurement (48 bytes) of the guest image; without it the verdict
    /// warns that a report only shows that *some* SEV-SNP guest asked for its report_data.
    pub measurement: Option<[u8; 48]>,
}

/// The outcome of [`verify`]; serialised as JSON by `lucid attest verify`.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub ok: bool,
    pub mode: VerdictMode,
    pub checks: Vec<Check>,
    pub warnings: Vec<String>,
    /// The report's fields, when it could be parsed. Only trustworthy when `ok`.
    pub report: Option<ReportSummary>,
}

impl Verdict {
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// Whether the chain ends at AMD's root or at a locally generated (mock) one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VerdictMode {
    Hardware,
    Mock,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReportSummary {
    pub version: u32,
    pub guest_svn: u32,
    pub policy: String,
    pub vmpl: u32,
    pub debug: bool,
    pub chip_id: String,
    pub reported_tcb: TcbSummary,
    pub report_data: String,
    pub measurement: String,
    pub host_data: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TcbSummary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fmc: Option<u8>,
    pub bootloader: u8,
    pub tee: u8,
    pub snp: u8,
    pub microcode: u8,
}

pub const CHECK_REPORT_WELL_FORMED: &str = "report_well_formed";
pub const CHECK_CERTIFICATES_PARSE: &str = "certificates_parse";
pub const CHECK_ARK_SELF_SIGNED: &str = "ark_self_signed";
pub const CHECK_ASK_SIGNED_BY_ARK: &str = "ask_signed_by_ark";
pub const CHECK_VCEK_SIGNED_BY_ASK: &str = "vcek_signed_by_ask";
pub const CHECK_ROOT_IS_AMD: &str = "root_is_amd";
pub const CHECK_REPORT_SIGNED_BY_VCEK: &str = "report_signed_by_vcek";
pub const CHECK_VCEK_TCB: &str = "vcek_tcb_matches_reported_tcb";
pub const CHECK_VCEK_HWID: &str = "vcek_hwid_matches_chip_id";
pub const CHECK_REPORT_DATA: &str = "report_data_matches";
/// Name of the launch-measurement check (only with an expected measurement).
pub const CHECK_MEASUREMENT: &str = "measurement_matches";

/// Verifies a report; never panics, whatever the bytes.
pub fn verify(input: &VerifyInput) -> Verdict {
    let mut v = Verdict {
        ok: false,
        mode: VerdictMode::Hardware,
        checks: Vec::new(),
        warnings: Vec::new(),
        report: None,
    };

    let report = check_report_form(input.report, &mut v);
    let Some((ark, ask, vcek)) = parse_chain(input, &mut v) else {
        return finish(v);
    };

    push(
        &mut v,
        CHECK_ARK_SELF_SIGNED,
        unit(certs::verify_signed_by(&ark, &ark)),
        "the ark signs itself",
    );
    push(
        &mut v,
        CHECK_ASK_SIGNED_BY_ARK,
        unit(certs::verify_signed_by(&ark, &ask)),
        "the ark signs the ask",
    );
    push(
        &mut v,
        CHECK_VCEK_SIGNED_BY_ASK,
        unit(certs::verify_signed_by(&ask, &vcek)),
        "the ask signs the vcek",
    );
    check_root(&ark, input, &mut v);

    let Some(report) = report else {
        push(
            &mut v,
            CHECK_REPORT_SIGNED_BY_VCEK,
            Err("report is not well formed".into()),
            "",
        );
        return finish(v);
    };
    let signed = (&vcek, &report).verify().map_err(|e| e.to_string());
    push(
        &mut v,
        CHECK_REPORT_SIGNED_BY_VCEK,
        unit(signed),
        "the vcek signs the report (ecdsa p-384, sha-384)",
    );

    match certs::vcek_extensions(&vcek) {
        Ok(ext) => {
            push(&mut v, CHECK_VCEK_TCB, tcb_matches(&ext, &report), "");
            push(&mut v, CHECK_VCEK_HWID, hwid_matches(&ext, &report), "");
        }
        Err(e) => {
            push(&mut v, CHECK_VCEK_TCB, Err(e.clone()), "");
            push(&mut v, CHECK_VCEK_HWID, Err(e), "");
        }
    }
    check_report_data(input, &report, &mut v);
    match input.measurement {
        Some(expected) => {
            let result = if report.measurement == expected {
                Ok(format!("launch measurement {}", hex::encode(expected)))
            } else {
                Err(format!(
                    "launch measurement {} differs from the expected {}",
                    hex::encode(report.measurement),
                    hex::encode(expected)
                ))
            };
            push(&mut v, CHECK_MEASUREMENT, result, "");
        }
        None => v.warnings.push(format!(
            "launch measurement {} not checked (give the expected one): without it the report \
             shows only that some sev-snp guest asked for this report_data",
            hex::encode(report.measurement)
        )),
    }
    if input.binding_hash.is_none() && input.nonce.is_none() {
        v.warnings
            .push("report_data not checked: give the binding (or a nonce) it must carry".into());
    }

    if report.policy.debug_allowed() {
        v.warnings.push(
            "guest policy allows debugging: the host can read and change guest memory".into(),
        );
    }
    if report.vmpl != 0 {
        v.warnings
            .push(format!("report requested from vmpl {}, not 0", report.vmpl));
    }
    finish(v)
}

fn finish(mut v: Verdict) -> Verdict {
    v.ok = !v.checks.is_empty() && v.checks.iter().all(|c| c.ok);
    if v.mode == VerdictMode::Mock {
        v.warnings.insert(
            0,
            "mock attestation: the chain is not AMD's; this proves nothing about the hardware"
                .into(),
        );
    }
    v
}

fn unit(r: Result<(), String>) -> Result<String, String> {
    r.map(|()| String::new())
}

fn push(v: &mut Verdict, name: &'static str, result: Result<String, String>, ok_detail: &str) {
    let (ok, detail) = match result {
        Ok(d) if d.is_empty() => (true, ok_detail.to_owned()),
        Ok(d) => (true, d),
        Err(e) => (false, e),
    };
    v.checks.push(Check { name, ok, detail });
}

/// Length, parse through the `sev` crate, and the bytes the crate will verify the signature over
/// being exactly the bytes given: the crate re-encodes the parsed report before verifying, so any
/// byte it does not model (reserved TCB bytes, the unused high bytes of r and s) would otherwise
/// escape the signature.
fn check_report_form(raw: &[u8], v: &mut Verdict) -> Option<AttestationReport> {
    let result = parse_report(raw);
    match result {
        Ok(report) => {
            v.report = Some(summary(&report));
            push(
                v,
                CHECK_REPORT_WELL_FORMED,
                Ok(format!("sev-snp report version {}", report.version)),
                "",
            );
            Some(report)
        }
        Err(e) => {
            push(v, CHECK_REPORT_WELL_FORMED, Err(e.to_string()), "");
            None
        }
    }
}

/// Parses a raw report, refusing anything the signature would not cover exactly.
pub(crate) fn parse_report(raw: &[u8]) -> Result<AttestationReport, AttestError> {
    if raw.len() != REPORT_LEN {
        return Err(AttestError::ReportLength {
            len: raw.len(),
            expected: REPORT_LEN,
        });
    }
    let report = AttestationReport::from_bytes(raw)
        .map_err(|e| AttestError::Report(format!("cannot parse: {e}")))?;
    if report.sig_algo != 1 {
        return Err(AttestError::Report(format!(
            "signature algorithm {} is not 1 (ecdsa p-384 with sha-384)",
            report.sig_algo
        )));
    }
    let sig = &raw[SIGNATURE_OFFSET..];
    if sig[48..72]
        .iter()
        .chain(&sig[72 + 48..144])
        .any(|&b| b != 0)
    {
        return Err(AttestError::Report(
            "signature r or s has non-zero bytes beyond 48".into(),
        ));
    }
    let encoded = report
        .to_bytes()
        .map_err(|e| AttestError::Report(format!("cannot re-encode: {e}")))?;
    if encoded.as_slice() != raw {
        return Err(AttestError::Report("reserved bytes are not zero".into()));
    }
    Ok(report)
}

fn parse_chain(
    input: &VerifyInput,
    v: &mut Verdict,
) -> Option<(Certificate, Certificate, Certificate)> {
    let vcek = certs::parse(input.vcek).map_err(|e| format!("vcek: {e}"));
    let roots = match input.roots {
        Roots::Product(p) => certs::builtin_roots(p).map_err(|e| e.to_string()),
        Roots::Explicit { ark, ask } => certs::parse(ark)
            .map_err(|e| format!("ark: {e}"))
            .and_then(|ark| Ok((ark, certs::parse(ask).map_err(|e| format!("ask: {e}"))?))),
    };
    match (roots, vcek) {
        (Ok((ark, ask)), Ok(vcek)) => {
            let detail = match input.roots {
                Roots::Product(p) => format!("vcek with amd's built-in {p} ark and ask"),
                Roots::Explicit { .. } => "vcek with the given ark and ask".into(),
            };
            push(v, CHECK_CERTIFICATES_PARSE, Ok(detail), "");
            Some((ark, ask, vcek))
        }
        (roots, vcek) => {
            let errors: Vec<String> = [roots.err(), vcek.err()].into_iter().flatten().collect();
            push(v, CHECK_CERTIFICATES_PARSE, Err(errors.join("; ")), "");
            None
        }
    }
}

fn check_root(ark: &Certificate, input: &VerifyInput, v: &mut Verdict) {
    let result = match (certs::amd_product_of_ark(ark), input.roots) {
        (Some(p), Roots::Product(_)) => Ok(format!("amd's built-in {p} ark")),
        (Some(p), Roots::Explicit { .. }) => Ok(format!("the given ark is amd's {p} ark")),
        (None, _) => {
            v.mode = VerdictMode::Mock;
            if input.allow_mock {
                Ok("the ark is not amd's: mock chain accepted (allow_mock)".into())
            } else {
                Err(
                    "the ark is not one of amd's roots (a mock chain?); refused without allow_mock"
                        .into(),
                )
            }
        }
    };
    push(v, CHECK_ROOT_IS_AMD, result, "");
}

fn tcb_matches(ext: &VcekExtensions, report: &AttestationReport) -> Result<String, String> {
    let tcb = report.reported_tcb;
    let mut diffs = Vec::new();
    let mut cmp = |name: &str, cert: Option<u8>, reported: u8| match cert {
        Some(c) if c == reported => {}
        Some(c) => diffs.push(format!("{name}: vcek {c}, report {reported}")),
        None => diffs.push(format!("{name}: missing from the vcek")),
    };
    cmp("bootloader", ext.bootloader, tcb.bootloader);
    cmp("tee", ext.tee, tcb.tee);
    cmp("snp", ext.snp, tcb.snp);
    cmp("microcode", ext.microcode, tcb.microcode);
    match (ext.fmc, tcb.fmc) {
        (Some(c), Some(r)) if c != r => diffs.push(format!("fmc: vcek {c}, report {r}")),
        (None, Some(r)) if r != 0 => diffs.push(format!("fmc: missing from the vcek, report {r}")),
        _ => {}
    }
    if diffs.is_empty() {
        Ok(format!(
            "bootloader {} tee {} snp {} microcode {}{}",
            tcb.bootloader,
            tcb.tee,
            tcb.snp,
            tcb.microcode,
            tcb.fmc.map(|f| format!(" fmc {f}")).unwrap_or_default()
        ))
    } else {
        Err(diffs.join("; "))
    }
}

/// The VCEK's hwID is the report's chip_id: all 64 bytes, or on Turin the first 8 (the rest of
/// chip_id must then be zero).
fn hwid_matches(ext: &VcekExtensions, report: &AttestationReport) -> Result<String, String> {
    let Some(hwid) = ext.hwid.as_deref() else {
        return Err("the vcek has no hwid extension (a vlek?)".into());
    };
    let chip = &report.chip_id;
    if chip.iter().all(|&b| b == 0) {
        return Err("the report's chip_id is masked (all zeros)".into());
    }
    let ok = match hwid.len() {
        64 => hwid == chip.as_slice(),
        8 => hwid == &chip[..8] && chip[8..].iter().all(|&b| b == 0),
        n => return Err(format!("hwid is {n} bytes; expected 64 (or 8 on turin)")),
    };
    if ok {
        Ok(format!("chip_id {}", hex::encode(hwid)))
    } else {
        Err(format!(
            "vcek hwid {} differs from the report's chip_id {}",
            hex::encode(hwid),
            hex::encode(chip)
        ))
    }
}

fn check_report_data(input: &VerifyInput, report: &AttestationReport, v: &mut Verdict) {
    let actual = &report.report_data;
    let result = match (input.binding_hash, input.nonce) {
        (None, None) => return,
        (Some(binding), nonce) => {
            let expected = crate::report_data(&binding, &nonce.unwrap_or([0; 32]));
            if *actual == expected {
                Ok(if nonce.is_some() {
                    "binding hash and nonce".into()
                } else {
                    "binding hash, zero nonce".into()
                })
            } else if actual[..32] != binding {
                Err(format!(
                    "report_data binds {}, expected binding hash {}",
                    hex::encode(&actual[..32]),
                    hex::encode(binding)
                ))
            } else {
                Err(format!(
                    "report_data carries nonce {}, expected {}",
                    hex::encode(&actual[32..]),
                    hex::encode(&expected[32..])
                ))
            }
        }
        (None, Some(nonce)) => {
            if actual[32..] == nonce {
                Ok("nonce (no binding hash given)".into())
            } else {
                Err(format!(
                    "report_data carries nonce {}, expected {}",
                    hex::encode(&actual[32..]),
                    hex::encode(nonce)
                ))
            }
        }
    };
    push(v, CHECK_REPORT_DATA, result, "");
}

fn summary(r: &AttestationReport) -> ReportSummary {
    ReportSummary {
        version: r.version,
        guest_svn: r.guest_svn,
        policy: format!("{:#x}", u64::from(r.policy)),
        vmpl: r.vmpl,
        debug: r.policy.debug_allowed(),
        chip_id: hex::encode(r.chip_id),
        reported_tcb: TcbSummary {
            fmc: r.reported_tcb.fmc,
            bootloader: r.reported_tcb.bootloader,
            tee: r.reported_tcb.tee,
            snp: r.reported_tcb.snp,
            microcode: r.reported_tcb.microcode,
        },
        report_data: hex::encode(r.report_data),
        measurement: hex::encode(r.measurement),
        host_data: hex::encode(r.host_data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_report_is_refused_without_panicking() {
        let v = verify(&VerifyInput {
            report: &[0u8; 10],
            vcek: b"",
            roots: Roots::Product(Product::Milan),
            binding_hash: None,
            nonce: None,
            allow_mock: true,
            measurement: None,
        });
        assert!(!v.ok);
        assert!(!v.check(CHECK_REPORT_WELL_FORMED).unwrap().ok);
        assert!(!v.check(CHECK_CERTIFICATES_PARSE).unwrap().ok);
    }

    #[test]
    fn zero_report_is_refused() {
        assert!(parse_report(&[0u8; REPORT_LEN]).is_err());
    }

    #[test]
    fn product_names() {
        assert_eq!("Genoa".parse::<Product>().unwrap(), Product::Genoa);
        assert!("rome".parse::<Product>().is_err());
    }
}
