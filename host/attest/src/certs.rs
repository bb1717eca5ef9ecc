//! Certificates: parsing (DER or PEM, bounded), signature checks by the signature algorithm the
//! certificate names (AMD's RSA-PSS through the `sev` crate, P-384 ECDSA for the mock chain) and
//! the AMD KDS extensions of a VCEK.

use p384::ecdsa::signature::Verifier as _;
use sev::certs::snp::{Certificate, Verifiable as _, builtin};
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::referenced::OwnedToRef as _;
use x509_cert::der::{Decode as _, Encode as _};

use crate::AttestError;
use crate::verify::Product;

/// Largest certificate accepted, DER or PEM (AMD's are under 2 KiB).
pub const MAX_CERT_LEN: usize = 64 * 1024;

pub(crate) const RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
pub(crate) const ECDSA_WITH_SHA384: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");

// AMD KDS extensions of a VCEK (VCEK spec 57230, table "VCEK certificate extensions").
pub(crate) const OID_STRUCT_VERSION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.1");
pub(crate) const OID_PRODUCT_NAME: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.2");
pub(crate) const OID_BL_SPL: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.1");
pub(crate) const OID_TEE_SPL: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.2");
pub(crate) const OID_SNP_SPL: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.3");
pub(crate) const OID_UCODE_SPL: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.8");
pub(crate) const OID_FMC_SPL: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.9");
pub(crate) const OID_HWID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.4");

/// Parses a certificate given as PEM (if it starts with `-----BEGIN`, after whitespace) or DER.
pub(crate) fn parse(bytes: &[u8]) -> Result<Certificate, AttestError> {
    if bytes.len() > MAX_CERT_LEN {
        return Err(AttestError::CertificateTooLarge {
            len: bytes.len(),
            max: MAX_CERT_LEN,
        });
    }
    let trimmed = bytes.trim_ascii_start();
    let cert = if trimmed.starts_with(b"-----BEGIN") {
        // PEM is decoded to DER here, in one linear pass, rather than by the DER reader's own
        // PEM path (`Certificate::from_pem`), which a crafted certificate (found by the `attest`
        // fuzz target) keeps busy for minutes.
        let (label, der) = x509_cert::der::pem::decode_vec(trimmed)
            .map_err(|e| AttestError::Certificate(format!("invalid pem: {e}")))?;
        if label != "CERTIFICATE" {
            return Err(AttestError::Certificate(format!(
                "pem holds a '{label}', expected a 'CERTIFICATE'"
            )));
        }
        Certificate::from_der(&der)
    } else {
        Certificate::from_der(bytes)
    };
    cert.map_err(|e| AttestError::Certificate(lowercase_first(&e.to_string())))
}

pub(crate) fn to_pem(cert: &Certificate) -> Result<String, AttestError> {
    let pem = cert
        .to_pem()
        .map_err(|e| AttestError::Certificate(e.to_string()))?;
    String::from_utf8(pem).map_err(|e| AttestError::Certificate(e.to_string()))
}

pub(crate) fn der(cert: &Certificate) -> Vec<u8> {
    // Encoding a certificate that was decoded cannot fail in practice; an empty vector never
    // equals a built-in root, so failing closed is the right fallback.
    cert.to_der().unwrap_or_default()
}

/// AMD's built-in ARK and ASK for a product (from the `sev` crate).
pub(crate) fn builtin_roots(product: Product) -> Result<(Certificate, Certificate), AttestError> {
    let (ark, ask) = match product {
        Product::Milan => (builtin::milan::ark(), builtin::milan::ask()),
        Product::Genoa => (builtin::genoa::ark(), builtin::genoa::ask()),
        Product::Turin => (builtin::turin::ark(), builtin::turin::ask()),
    };
    let err = |e: std::io::Error| AttestError::Certificate(format!("built-in amd root: {e}"));
    Ok((ark.map_err(err)?, ask.map_err(err)?))
}

/// The product whose built-in AMD ARK is exactly `ark`, if any.
pub(crate) fn amd_product_of_ark(ark: &Certificate) -> Option<Product> {
    let ark_der = der(ark);
    Product::ALL.into_iter().find(|p| {
        builtin_roots(*p)
            .map(|(builtin_ark, _)| der(&builtin_ark) == ark_der)
            .unwrap_or(false)
    })
}

/// Checks that `issuer` signed `subject`: names chain, and the signature verifies under the
/// algorithm the subject names (RSA-PSS/SHA-384 via the `sev` crate, or ECDSA P-384/SHA-384).
pub(crate) fn verify_signed_by(issuer: &Certificate, subject: &Certificate) -> Result<(), String> {
    let issuer_x: x509_cert::Certificate = issuer.clone().into();
    let subject_x: x509_cert::Certificate = subject.clone().into();
    if issuer_x.tbs_certificate.subject != subject_x.tbs_certificate.issuer {
        return Err(format!(
            "issuer name '{}' does not match the signer's subject '{}'",
            subject_x.tbs_certificate.issuer, issuer_x.tbs_certificate.subject
        ));
    }
    if subject_x.signature_algorithm != subject_x.tbs_certificate.signature {
        return Err("outer and inner signature algorithms differ".into());
    }
    let alg = subject_x.signature_algorithm.oid;
    if alg == RSA_PSS {
        (issuer, subject)
            .verify()
            .map_err(|e| lowercase_first(&e.to_string()))
    } else if alg == ECDSA_WITH_SHA384 {
        let spki = issuer_x
            .tbs_certificate
            .subject_public_key_info
            .owned_to_ref();
        let key = p384::ecdsa::VerifyingKey::try_from(spki)
            .map_err(|e| format!("signer key is not a p-384 ecdsa key: {e}"))?;
        let sig = p384::ecdsa::Signature::from_der(subject_x.signature.raw_bytes())
            .map_err(|e| format!("malformed ecdsa signature: {e}"))?;
        let tbs = subject_x
            .tbs_certificate
            .to_der()
            .map_err(|e| format!("cannot encode the signed part: {e}"))?;
        key.verify(&tbs, &sig)
            .map_err(|_| "ecdsa p-384 signature does not verify".into())
    } else {
        Err(format!(
            "unsupported signature algorithm {alg}; expected rsassa-pss or ecdsa-with-sha384"
        ))
    }
}

/// The AMD KDS extensions of a VCEK that the report is checked against.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct VcekExtensions {
    pub bootloader: Option<u8>,
    pub tee: Option<u8>,
    pub snp: Option<u8>,
    pub microcode: Option<u8>,
    pub fmc: Option<u8>,
    pub hwid: Option<Vec<u8>>,
    pub product_name: Option<String>,
}

pub(crate) fn vcek_extensions(vcek: &Certificate) -> Result<VcekExtensions, String> {
    let x: x509_cert::Certificate = vcek.clone().into();
    let mut out = VcekExtensions::default();
    for ext in x.tbs_certificate.extensions.iter().flatten() {
        let value = ext.extn_value.as_bytes();
        let id = ext.extn_id;
        let slot = if id == OID_BL_SPL {
            &mut out.bootloader
        } else if id == OID_TEE_SPL {
            &mut out.tee
        } else if id == OID_SNP_SPL {
            &mut out.snp
        } else if id == OID_UCODE_SPL {
            &mut out.microcode
        } else if id == OID_FMC_SPL {
            &mut out.fmc
        } else if id == OID_HWID {
            if out.hwid.replace(value.to_vec()).is_some() {
                return Err("duplicate hwid extension".into());
            }
            continue;
        } else if id == OID_PRODUCT_NAME {
            // An IA5String in AMD's certificates; only informative.
            if let Ok(s) = x509_cert::der::asn1::Ia5StringRef::from_der(value) {
                out.product_name = Some(s.as_str().to_owned());
            }
            continue;
        } else {
            continue;
        };
        let n =
            u32::from_der(value).map_err(|e| format!("extension {id} is not an integer: {e}"))?;
        let n = u8::try_from(n).map_err(|_| format!("extension {id} value {n} exceeds 255"))?;
        if slot.replace(n).is_some() {
            return Err(format!("duplicate extension {id}"));
        }
    }
    Ok(out)
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_amd_chains_verify_generically() {
        for p in Product::ALL {
            let (ark, ask) = builtin_roots(p).unwrap();
            verify_signed_by(&ark, &ark).unwrap();
            verify_signed_by(&ark, &ask).unwrap();
            assert_eq!(amd_product_of_ark(&ark), Some(p));
        }
    }

    #[test]
    fn cross_product_roots_do_not_verify() {
        let (milan_ark, _) = builtin_roots(Product::Milan).unwrap();
        let (_, genoa_ask) = builtin_roots(Product::Genoa).unwrap();
        assert!(verify_signed_by(&milan_ark, &genoa_ask).is_err());
    }

    #[test]
    fn parse_rejects_garbage_and_oversize() {
        assert!(parse(b"").is_err());
        assert!(parse(b"-----BEGIN CERTIFICATE-----\nzz\n-----END CERTIFICATE-----\n").is_err());
        assert!(matches!(
            parse(&vec![0u8; MAX_CERT_LEN + 1]),
            Err(AttestError::CertificateTooLarge { .. })
        ));
    }
}
