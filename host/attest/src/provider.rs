//! The real provider: reports from the AMD secure processor through `/dev/sev-guest`.

use std::path::Path;

use crate::{AttestError, Evidence, Mode, Provider, SEV_GUEST_DEVICE};

/// Whether this machine exposes the SEV-SNP guest device.
pub fn sev_snp_available() -> bool {
    Path::new(SEV_GUEST_DEVICE).exists()
}

/// Reports from the AMD secure processor (extended reports with the host's certificate table when
/// the host provides one).
#[derive(Debug)]
pub struct SevSnpProvider {
    #[cfg(target_os = "linux")]
    firmware: std::sync::Mutex<sev::firmware::guest::Firmware>,
}

impl SevSnpProvider {
    /// Opens `/dev/sev-guest`; a clear error if it does not exist.
    pub fn open() -> Result<Self, AttestError> {
        if !sev_snp_available() {
            return Err(AttestError::NoDevice);
        }
        #[cfg(target_os = "linux")]
        {
            let firmware = sev::firmware::guest::Firmware::open().map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => AttestError::NoDevice,
                _ => AttestError::Device(e),
            })?;
            Ok(Self {
                firmware: std::sync::Mutex::new(firmware),
            })
        }
        #[cfg(not(target_os = "linux"))]
        Err(AttestError::Unsupported)
    }
}

impl Provider for SevSnpProvider {
    fn mode(&self) -> Mode {
        Mode::SevSnp
    }

    #[cfg(target_os = "linux")]
    fn report(&self, report_data: &[u8; 64]) -> Result<Evidence, AttestError> {
        use sev::firmware::host::CertType;

        // One request at a time: the device serialises them anyway, and `Firmware` needs `&mut`.
        let mut fw = self
            .firmware
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // VMPL 0: the report states the guest's own privilege level.
        let (report, table) = match fw.get_ext_report(None, Some(*report_data), Some(0)) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "extended sev-snp report failed; asking for a plain report");
                let report = fw
                    .get_report(None, Some(*report_data), Some(0))
                    .map_err(|e| AttestError::Firmware(e.to_string()))?;
                (report, None)
            }
        };
        drop(fw);
        if report.len() != crate::REPORT_LEN {
            return Err(AttestError::ReportLength {
                len: report.len(),
                expected: crate::REPORT_LEN,
            });
        }

        let mut certificates = crate::Certificates::default();
        for entry in table.unwrap_or_default() {
            let slot = match entry.cert_type {
                CertType::VCEK => &mut certificates.vcek,
                CertType::ASK => &mut certificates.ask,
                CertType::ARK => &mut certificates.ark,
                _ => continue,
            };
            // The host's table holds DER (or PEM); hand out PEM either way.
            match crate::certs::parse(&entry.data).and_then(|c| crate::certs::to_pem(&c)) {
                Ok(pem) => *slot = Some(pem),
                Err(e) => {
                    tracing::warn!(error = %e, cert = %entry.cert_type, "ignoring an unreadable certificate from the host")
                }
            }
        }
        Ok(Evidence {
            report,
            certificates,
        })
    }

    #[cfg(not(target_os = "linux"))]
    fn report(&self, _report_data: &[u8; 64]) -> Result<Evidence, AttestError> {
        Err(AttestError::Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_without_device_says_so() {
        if sev_snp_available() {
            return;
        }
        let err = SevSnpProvider::open().unwrap_err();
        assert!(matches!(err, AttestError::NoDevice));
        assert!(err.to_string().contains("use --attestation mock"));
    }
}
