use std::path::PathBuf;

/// What went wrong obtaining a report or handling certificates. Verification failures are not
/// errors: they are failed checks in a [`crate::Verdict`].
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    #[error("no /dev/sev-guest: this machine is not an SEV-SNP guest; use --attestation mock")]
    NoDevice,
    #[error("cannot open /dev/sev-guest: {0}")]
    Device(#[source] std::io::Error),
    #[error("sev-snp firmware refused the report request: {0}")]
    Firmware(String),
    #[error("sev-snp is only available on linux guests")]
    Unsupported,
    #[error("unknown attestation mode '{0}'; expected 'mock' or 'sev-snp'")]
    UnknownMode(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("refusing {path}: it is a symlink; the mock attestation chain must be plain files")]
    Symlink { path: PathBuf },
    #[error(
        "mock attestation chain under {path} is incomplete or inconsistent ({reason}); remove the directory to regenerate it"
    )]
    MockChain { path: PathBuf, reason: String },
    #[error("certificate is {len} bytes; at most {max} are accepted")]
    CertificateTooLarge { len: usize, max: usize },
    #[error("invalid certificate: {0}")]
    Certificate(String),
    #[error("report is {len} bytes; an sev-snp report is exactly {expected}")]
    ReportLength { len: usize, expected: usize },
    #[error("invalid report: {0}")]
    Report(String),
    #[error("signing failed: {0}")]
    Crypto(String),
}
