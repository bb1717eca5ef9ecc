//! AMD SEV-SNP attestation for Lucid: obtaining a report whose `report_data` binds the gateway's
//! state ([`Provider`]: the real `/dev/sev-guest` or a clearly labelled mock) and verifying one
//! ([`verify`]), with a single code path for genuine and mock reports.
//!
//! Owns: the report layout constants, `report_data` = binding_hash ‖ nonce, the mock ARK → ASK →
//! VCEK chain, and the checks the `sev` crate does not do (certificate issuer names, generic
//! certificate signatures, VCEK TCB/hwID extensions against the report, report_data).
//! Must not depend on: wasmtime, Cedar, tokio, any other Lucid crate (the fuzz target builds it).

mod certs;
mod error;
mod mock;
mod provider;
mod verify;

pub use certs::MAX_CERT_LEN;
pub use error::AttestError;
pub use mock::MockProvider;
pub use provider::{SevSnpProvider, sev_snp_available};
pub use verify::{
    Check, Product, ReportSummary, Roots, TcbSummary, Verdict, VerdictMode, VerifyInput, verify,
};

use serde::{Deserialize, Serialize};

/// Length of an SEV-SNP attestation report as the firmware returns it.
pub const REPORT_LEN: usize = 0x4A0;
/// Offset of the 64 guest-chosen `report_data` bytes in a report.
pub const REPORT_DATA_OFFSET: usize = 0x50;
/// Offset of the signature (r ‖ s, each 72 bytes little-endian); bytes before it are signed.
pub const SIGNATURE_OFFSET: usize = 0x2A0;
/// Path of the SEV-SNP guest device.
pub const SEV_GUEST_DEVICE: &str = "/dev/sev-guest";

/// The `report_data` Lucid asks for: the binding hash followed by the verifier's nonce (zeros when
/// none was given).
pub fn report_data(binding_hash: &[u8; 32], nonce: &[u8; 32]) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(binding_hash);
    out[32..].copy_from_slice(nonce);
    out
}

/// Where a report comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Mode {
    /// A locally generated chain and report; proves nothing about the hardware.
    #[serde(rename = "mock")]
    Mock,
    /// The AMD secure processor, through `/dev/sev-guest`.
    #[serde(rename = "sev-snp")]
    SevSnp,
}

impl Mode {
    /// The serde name: `mock` or `sev-snp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Mock => "mock",
            Mode::SevSnp => "sev-snp",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Mode {
    type Err = AttestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mock" => Ok(Mode::Mock),
            "sev-snp" => Ok(Mode::SevSnp),
            other => Err(AttestError::UnknownMode(other.to_owned())),
        }
    }
}

/// PEM certificates that came with a report (the host's certificate table, or the mock chain).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificates {
    pub vcek: Option<String>,
    pub ask: Option<String>,
    pub ark: Option<String>,
}

/// One attestation: the raw report and the certificates available for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// The raw [`REPORT_LEN`]-byte report.
    pub report: Vec<u8>,
    pub certificates: Certificates,
}

/// A source of attestation reports.
pub trait Provider: Send + Sync {
    fn mode(&self) -> Mode;
    /// A fresh report carrying `report_data` (see [`report_data`]).
    fn report(&self, report_data: &[u8; 64]) -> Result<Evidence, AttestError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_data_is_binding_then_nonce() {
        let rd = report_data(&[1; 32], &[2; 32]);
        assert_eq!(&rd[..32], &[1; 32]);
        assert_eq!(&rd[32..], &[2; 32]);
    }

    #[test]
    fn mode_serde_names() {
        assert_eq!(serde_json::to_string(&Mode::Mock).unwrap(), "\"mock\"");
        assert_eq!(serde_json::to_string(&Mode::SevSnp).unwrap(), "\"sev-snp\"");
        assert_eq!("sev-snp".parse::<Mode>().unwrap(), Mode::SevSnp);
        assert!("sev".parse::<Mode>().is_err());
    }
}
