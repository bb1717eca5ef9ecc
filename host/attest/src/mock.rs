//! The mock provider: a locally generated P-384 ARK → ASK → VCEK chain, persisted under the data
//! directory, and reports in the real SNP layout signed by the mock VCEK. Every certificate says
//! MOCK in its names; [`crate::verify`] refuses the chain unless told to allow mock reports.

use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::time::Duration;

use p384::ecdsa::signature::Signer as _;
use p384::ecdsa::{Signature as EcdsaSignature, SigningKey};
use p384::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use rand_core::{OsRng, RngCore as _};
use sev::certs::snp::Certificate;
use sev::certs::snp::ecdsa::Signature;
use sev::firmware::guest::{AttestationReport, GuestPolicy, PlatformInfo, Version};
use sev::firmware::host::TcbVersion;
use sev::parser::ByteParser as _;
use x509_cert::der::asn1::{BitString, Ia5StringRef, OctetString};
use x509_cert::der::oid::AssociatedOid as _;
use x509_cert::der::{Decode as _, Encode as _};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::Validity;
use x509_cert::{TbsCertificate, Version as X509Version};

use crate::certs::{self, ECDSA_WITH_SHA384, MAX_CERT_LEN};
use crate::{AttestError, Certificates, Evidence, Mode, Provider, SIGNATURE_OFFSET};

/// Subdirectory of the data directory holding the mock chain.
pub const MOCK_DIR: &str = "mock-attestation";
const ARK_FILE: &str = "ark.pem";
const ASK_FILE: &str = "ask.pem";
const VCEK_FILE: &str = "vcek.pem";
const VCEK_KEY_FILE: &str = "vcek.key";

/// The mock chip: its chip_id (= the mock VCEK's hwID) spells out that it is not hardware.
pub const MOCK_CHIP_ID: [u8; 64] =
    *b"LUCID MOCK CHIP ID -- NOT AMD HARDWARE -- NOT AN SEV-SNP GUEST..";
/// The mock measurement: a label, not the digest of any launched image.
pub const MOCK_MEASUREMENT: [u8; 48] = *b"LUCID MOCK MEASUREMENT -- NOT A LAUNCH DIGEST...";
/// The TCB the mock VCEK certifies and its reports carry.
const MOCK_TCB: TcbVersion = TcbVersion {
    fmc: None,
    bootloader: 1,
    tee: 0,
    snp: 1,
    microcode: 1,
};

/// A locally generated chain and reports signed by it: for development and tests, never proof.
pub struct MockProvider {
    dir: PathBuf,
    vcek_key: SigningKey,
    tcb: TcbVersion,
    chip_id: [u8; 64],
    certificates: Certificates,
}

impl std::fmt::Debug for MockProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockProvider")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl MockProvider {
    /// Loads the mock chain from `dir/mock-attestation/`, generating it there on first use
    /// (files 0600 in a 0700 directory; symlinks refused).
    pub fn open(dir: &Path) -> Result<Self, AttestError> {
        let base = dir.join(MOCK_DIR);
        match fs::symlink_metadata(&base) {
            Ok(m) if m.file_type().is_symlink() => return Err(AttestError::Symlink { path: base }),
            Ok(_) => return Self::load(&base),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(AttestError::Io { path: base, source }),
        }
        generate(dir, &base)?;
        Self::load(&base)
    }

    /// The directory the chain lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The mock chain, PEM.
    pub fn certificates(&self) -> &Certificates {
        &self.certificates
    }

    fn load(base: &Path) -> Result<Self, AttestError> {
        let inconsistent = |reason: String| AttestError::MockChain {
            path: base.to_owned(),
            reason,
        };
        let ark_pem = read_file(&base.join(ARK_FILE))?;
        let ask_pem = read_file(&base.join(ASK_FILE))?;
        let vcek_pem = read_file(&base.join(VCEK_FILE))?;
        let key_pem = read_file(&base.join(VCEK_KEY_FILE))?;
        let ark = certs::parse(ark_pem.as_bytes())?;
        let ask = certs::parse(ask_pem.as_bytes())?;
        let vcek = certs::parse(vcek_pem.as_bytes())?;
        certs::verify_signed_by(&ark, &ark).map_err(|e| inconsistent(format!("ark: {e}")))?;
        certs::verify_signed_by(&ark, &ask).map_err(|e| inconsistent(format!("ask: {e}")))?;
        certs::verify_signed_by(&ask, &vcek).map_err(|e| inconsistent(format!("vcek: {e}")))?;

        let secret = p384::SecretKey::from_pkcs8_pem(&key_pem)
            .map_err(|e| inconsistent(format!("vcek.key: {e}")))?;
        let vcek_key = SigningKey::from(secret);
        let public = vcek_key.verifying_key().to_encoded_point(false);
        if public.as_bytes() != vcek.public_key_sec1() {
            return Err(inconsistent("vcek.key is not the key of vcek.pem".into()));
        }

        let ext = certs::vcek_extensions(&vcek).map_err(|e| inconsistent(format!("vcek: {e}")))?;
        let (Some(bootloader), Some(tee), Some(snp), Some(microcode)) =
            (ext.bootloader, ext.tee, ext.snp, ext.microcode)
        else {
            return Err(inconsistent("vcek lacks tcb extensions".into()));
        };
        let chip_id: [u8; 64] = ext
            .hwid
            .as_deref()
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| inconsistent("vcek lacks a 64-byte hwid".into()))?;
        Ok(Self {
            dir: base.to_owned(),
            vcek_key,
            tcb: TcbVersion {
                fmc: None,
                bootloader,
                tee,
                snp,
                microcode,
            },
            chip_id,
            certificates: Certificates {
                vcek: Some(vcek_pem),
                ask: Some(ask_pem),
                ark: Some(ark_pem),
            },
        })
    }
}

impl Provider for MockProvider {
    fn mode(&self) -> Mode {
        Mode::Mock
    }

    fn report(&self, report_data: &[u8; 64]) -> Result<Evidence, AttestError> {
        let report = sign_report(&self.vcek_key, self.tcb, self.chip_id, report_data)?;
        Ok(Evidence {
            report,
            certificates: self.certificates.clone(),
        })
    }
}

/// A version 3 report of a (mock) Milan guest: debug off, VMPL 0, the mock chip and TCB, signed
/// by `key` over bytes 0..0x2A0 with r and s little-endian in AMD's 72-byte fields.
fn sign_report(
    key: &SigningKey,
    tcb: TcbVersion,
    chip_id: [u8; 64],
    report_data: &[u8; 64],
) -> Result<Vec<u8>, AttestError> {
    let mut report_id = [0u8; 32];
    OsRng.fill_bytes(&mut report_id);
    let mut r = AttestationReport {
        version: 3,
        // SMT allowed (bit 16), reserved bit 17 set by the conversion, debug (bit 19) off.
        policy: GuestPolicy::from(1u64 << 16),
        vmpl: 0,
        sig_algo: 1,
        current_tcb: tcb,
        plat_info: PlatformInfo::from(0u64),
        report_data: *report_data,
        measurement: MOCK_MEASUREMENT,
        report_id,
        reported_tcb: tcb,
        // Family 19h model 01h: Milan, so the TCB uses the Milan/Genoa layout.
        cpuid_fam_id: Some(0x19),
        cpuid_mod_id: Some(0x01),
        cpuid_step: Some(0x01),
        chip_id,
        committed_tcb: tcb,
        current: Version::new(1, 55, 0),
        committed: Version::new(1, 55, 0),
        launch_tcb: tcb,
        ..Default::default()
    };
    let encode = |r: &AttestationReport| {
        r.to_bytes()
            .map(|b| b.to_vec())
            .map_err(|e| AttestError::Report(format!("cannot encode the mock report: {e}")))
    };
    let unsigned = encode(&r)?;
    let sig: EcdsaSignature = key.sign(&unsigned[..SIGNATURE_OFFSET]);
    let (r_be, s_be) = sig.split_bytes();
    r.signature = Signature::new(le72(&r_be), le72(&s_be));
    encode(&r)
}

fn le72(be: &[u8]) -> [u8; 72] {
    let mut out = [0u8; 72];
    for (o, b) in out.iter_mut().zip(be.iter().rev()) {
        *o = *b;
    }
    out
}

/// Generates the chain into a fresh sibling directory and renames it into place, so that a crash
/// never leaves half a chain; if another process won the race, its chain is used.
fn generate(dir: &Path, base: &Path) -> Result<(), AttestError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| AttestError::Io { path, source }
    };
    fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp = dir.join(format!(
        ".{MOCK_DIR}.tmp-{}-{:x}",
        std::process::id(),
        OsRng.next_u64()
    ));
    create_private_dir(&tmp).map_err(io(&tmp))?;
    let result = write_chain(&tmp);
    let result = result.and_then(|()| match fs::rename(&tmp, base) {
        Ok(()) => Ok(()),
        Err(_) if base.is_dir() => Ok(()), // lost the race: keep the other chain
        Err(source) => Err(AttestError::Io {
            path: base.to_owned(),
            source,
        }),
    });
    let _ = fs::remove_dir_all(&tmp);
    if result.is_ok() {
        tracing::warn!(dir = %base.display(), "generated a MOCK sev-snp attestation chain (not AMD)");
    }
    result
}

fn write_chain(tmp: &Path) -> Result<(), AttestError> {
    let ark_key = p384::SecretKey::random(&mut OsRng);
    let ask_key = p384::SecretKey::random(&mut OsRng);
    let vcek_key = p384::SecretKey::random(&mut OsRng);
    let ark_name = name("CN=Lucid MOCK ARK - not AMD,OU=mock attestation,O=Lucid")?;
    let ask_name = name("CN=Lucid MOCK ASK - not AMD,OU=mock attestation,O=Lucid")?;
    let vcek_name = name("CN=Lucid MOCK VCEK - not AMD,OU=mock attestation,O=Lucid")?;

    let ca = || -> Result<Vec<Extension>, AttestError> {
        let bc = BasicConstraints {
            ca: true,
            path_len_constraint: None,
        };
        Ok(vec![Extension {
            extn_id: BasicConstraints::OID,
            critical: true,
            extn_value: octets(bc.to_der())?,
        }])
    };
    let ark = issue(
        &ark_name,
        &ark_name,
        &ark_key,
        &ark_key.public_key(),
        1,
        ca()?,
    )?;
    let ask = issue(
        &ark_name,
        &ask_name,
        &ark_key,
        &ask_key.public_key(),
        2,
        ca()?,
    )?;
    let vcek = issue(
        &ask_name,
        &vcek_name,
        &ask_key,
        &vcek_key.public_key(),
        3,
        vcek_extensions()?,
    )?;

    let pem = |c: x509_cert::Certificate| certs::to_pem(&Certificate::from(c));
    write_private(&tmp.join(ARK_FILE), pem(ark)?.as_bytes())?;
    write_private(&tmp.join(ASK_FILE), pem(ask)?.as_bytes())?;
    write_private(&tmp.join(VCEK_FILE), pem(vcek)?.as_bytes())?;
    let key_pem = vcek_key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| AttestError::Crypto(e.to_string()))?;
    write_private(&tmp.join(VCEK_KEY_FILE), key_pem.as_bytes())
}

/// The AMD KDS extensions a real VCEK carries, with the mock TCB and chip.
fn vcek_extensions() -> Result<Vec<Extension>, AttestError> {
    let int = |oid, v: u8| {
        Ok::<_, AttestError>(Extension {
            extn_id: oid,
            critical: false,
            extn_value: octets(v.to_der())?,
        })
    };
    let product =
        Ia5StringRef::new("Lucid-MOCK").map_err(|e| AttestError::Crypto(e.to_string()))?;
    Ok(vec![
        int(certs::OID_STRUCT_VERSION, 1)?,
        Extension {
            extn_id: certs::OID_PRODUCT_NAME,
            critical: false,
            extn_value: octets(product.to_der())?,
        },
        int(certs::OID_BL_SPL, MOCK_TCB.bootloader)?,
        int(certs::OID_TEE_SPL, MOCK_TCB.tee)?,
        int(certs::OID_SNP_SPL, MOCK_TCB.snp)?,
        int(certs::OID_UCODE_SPL, MOCK_TCB.microcode)?,
        Extension {
            extn_id: certs::OID_HWID,
            critical: false,
            extn_value: octets(Ok(MOCK_CHIP_ID.to_vec()))?,
        },
    ])
}

fn issue(
    issuer: &Name,
    subject: &Name,
    issuer_key: &p384::SecretKey,
    subject_key: &p384::PublicKey,
    serial: u8,
    extensions: Vec<Extension>,
) -> Result<x509_cert::Certificate, AttestError> {
    let crypto = |e: &dyn std::fmt::Display| AttestError::Crypto(e.to_string());
    let spki_der = subject_key.to_public_key_der().map_err(|e| crypto(&e))?;
    let algorithm = AlgorithmIdentifierOwned {
        oid: ECDSA_WITH_SHA384,
        parameters: None,
    };
    let tbs = TbsCertificate {
        version: X509Version::V3,
        serial_number: SerialNumber::new(&[serial]).map_err(|e| crypto(&e))?,
        signature: algorithm.clone(),
        issuer: issuer.clone(),
        validity: Validity::from_now(Duration::from_secs(20 * 365 * 86_400))
            .map_err(|e| crypto(&e))?,
        subject: subject.clone(),
        subject_public_key_info: SubjectPublicKeyInfoOwned::from_der(spki_der.as_bytes())
            .map_err(|e| crypto(&e))?,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    };
    let tbs_der = tbs.to_der().map_err(|e| crypto(&e))?;
    let sig: EcdsaSignature = SigningKey::from(issuer_key).sign(&tbs_der);
    Ok(x509_cert::Certificate {
        tbs_certificate: tbs,
        signature_algorithm: algorithm,
        signature: BitString::from_bytes(sig.to_der().as_bytes()).map_err(|e| crypto(&e))?,
    })
}

fn name(s: &str) -> Result<Name, AttestError> {
    Name::from_str(s).map_err(|e| AttestError::Crypto(format!("name '{s}': {e}")))
}

fn octets(der: Result<Vec<u8>, x509_cert::der::Error>) -> Result<OctetString, AttestError> {
    der.and_then(OctetString::new)
        .map_err(|e| AttestError::Crypto(e.to_string()))
}

fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), AttestError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let io = |source| AttestError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = options.open(path).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)
}

/// Reads one file of the chain, refusing symlinks (checked and, on unix, enforced by O_NOFOLLOW).
fn read_file(path: &Path) -> Result<String, AttestError> {
    let io = |source| AttestError::Io {
        path: path.to_owned(),
        source,
    };
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(AttestError::Symlink {
                path: path.to_owned(),
            });
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (path, reason) = match path.parent() {
                Some(parent) => (parent.to_owned(), format!("{} is missing", path.display())),
                None => (path.to_owned(), "missing".into()),
            };
            return Err(AttestError::MockChain { path, reason });
        }
        Err(e) => return Err(io(e)),
    }
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
    let file: File = options.open(path).map_err(io)?;
    let mut text = String::new();
    file.take(MAX_CERT_LEN as u64 + 1)
        .read_to_string(&mut text)
        .map_err(io)?;
    if text.len() > MAX_CERT_LEN {
        return Err(AttestError::CertificateTooLarge {
            len: text.len(),
            max: MAX_CERT_LEN,
        });
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn le72_reverses_into_the_low_bytes() {
        let out = le72(&[1, 2, 3]);
        assert_eq!(&out[..3], &[3, 2, 1]);
        assert!(out[3..].iter().all(|&b| b == 0));
    }

    #[test]
    fn names_say_mock() {
        let dir = tempfile::tempdir().unwrap();
        let p = MockProvider::open(dir.path()).unwrap();
        for pem in [
            &p.certificates.ark,
            &p.certificates.ask,
            &p.certificates.vcek,
        ] {
            let x: x509_cert::Certificate = certs::parse(pem.as_ref().unwrap().as_bytes())
                .unwrap()
                .into();
            assert!(x.tbs_certificate.subject.to_string().contains("MOCK"));
            assert!(x.tbs_certificate.issuer.to_string().contains("MOCK"));
        }
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private_and_symlinks_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        MockProvider::open(dir.path()).unwrap();
        let key = dir.path().join(MOCK_DIR).join(VCEK_KEY_FILE);
        assert_eq!(
            fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );

        let other = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(dir.path().join(MOCK_DIR), other.path().join(MOCK_DIR)).unwrap();
        assert!(matches!(
            MockProvider::open(other.path()),
            Err(AttestError::Symlink { .. })
        ));

        fs::remove_file(&key).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", &key).unwrap();
        assert!(matches!(
            MockProvider::open(dir.path()),
            Err(AttestError::Symlink { .. })
        ));
    }
}
