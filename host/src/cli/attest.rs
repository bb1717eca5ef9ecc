//! `lucid attest verify`: checks an SEV-SNP attestation report (a file, or fetched from a
//! gateway's GET /v1/attestation) with `lucid_attest::verify` and prints its verdict as JSON.

use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use base64::Engine as _;
use serde_json::Value;

use super::{AttestVerifyArgs, emit};
use lucid_attest::{REPORT_LEN, Roots, VerifyInput};

/// Largest attestation document or report file read (a document is a few KiB).
const MAX_DOCUMENT: u64 = 1024 * 1024;

/// The JSON a gateway serves at GET /v1/attestation; every field optional so that a raw report
/// and a document share one path.
#[derive(Debug, Default, serde::Deserialize)]
struct Document {
    mode: Option<String>,
    report: Option<String>,
    binding: Option<Value>,
    binding_hash: Option<String>,
    #[serde(default)]
    certificates: lucid_attest::Certificates,
}

pub fn verify(args: &AttestVerifyArgs) -> anyhow::Result<ExitCode> {
    let measurement = args
        .measurement
        .as_deref()
        .map(|text| {
            let mut m = [0u8; 48];
            hex::decode_to_slice(text.trim(), &mut m)
                .map(|()| m)
                .map_err(|_| anyhow::anyhow!("expected 96 hex characters (48 bytes)"))
        })
        .transpose()
        .context("--measurement")?;
    let mut nonce = args
        .nonce
        .as_deref()
        .map(parse_hex32)
        .transpose()
        .context("--nonce")?;
    let (doc, report) = match (&args.report, &args.url) {
        (Some(file), _) => load_file(file)?,
        (None, Some(url)) => {
            let n = match nonce {
                Some(n) => n,
                None => {
                    let mut n = [0u8; 32];
                    getrandom::fill(&mut n)
                        .map_err(|e| anyhow::anyhow!("no randomness for a nonce: {e}"))?;
                    n
                }
            };
            nonce = Some(n);
            let body = fetch(url, &hex::encode(n), args.api_key.as_deref())?;
            let doc: Document = serde_json::from_slice(&body).with_context(|| {
                format!("{url}/v1/attestation did not answer an attestation document")
            })?;
            let report = decode_report(&doc)?;
            (doc, report)
        }
        (None, None) => bail!("give --report FILE or --url URL"),
    };

    let binding_hash = expected_binding_hash(args.binding.as_deref(), &doc)?;
    let vcek = match &args.vcek {
        Some(path) => super::read_file(path, "vcek")?,
        None => pem_from_doc(
            doc.certificates.vcek.as_deref(),
            "vcek",
            "--vcek FILE (the VCEK from AMD's KDS for this chip and TCB)",
        )?,
    };
    let (ark, ask) = match (&args.ark, &args.ask) {
        (Some(ark), Some(ask)) => (super::read_file(ark, "ark")?, super::read_file(ask, "ask")?),
        _ if args.product.is_some() => (Vec::new(), Vec::new()),
        _ => (
            pem_from_doc(
                doc.certificates.ark.as_deref(),
                "ark",
                "--product milan|genoa|turin or --ark/--ask",
            )?,
            pem_from_doc(
                doc.certificates.ask.as_deref(),
                "ask",
                "--product milan|genoa|turin or --ark/--ask",
            )?,
        ),
    };
    let roots = match args.product {
        Some(product) => Roots::Product(product),
        None => Roots::Explicit {
            ark: &ark,
            ask: &ask,
        },
    };

    let verdict = lucid_attest::verify(&VerifyInput {
        report: &report,
        vcek: &vcek,
        roots,
        binding_hash,
        nonce,
        allow_mock: args.allow_mock,
        measurement,
    });
    let mut out = serde_json::to_value(&verdict)?;
    if let Value::Object(map) = &mut out {
        map.insert("binding_hash".into(), binding_hash.map(hex::encode).into());
        map.insert("nonce".into(), nonce.map(hex::encode).into());
        if let Some(mode) = &doc.mode {
            map.insert("served_mode".into(), mode.clone().into());
        }
    }
    emit(&serde_json::to_string_pretty(&out)?);
    Ok(if verdict.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A raw report, or an attestation document (JSON) with the report in base64.
fn load_file(path: &Path) -> anyhow::Result<(Document, Vec<u8>)> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read report {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_DOCUMENT + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read report {}", path.display()))?;
    if bytes.len() as u64 > MAX_DOCUMENT {
        bail!("{} is larger than {MAX_DOCUMENT} bytes", path.display());
    }
    if bytes.len() != REPORT_LEN && bytes.trim_ascii_start().starts_with(b"{") {
        let doc: Document = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not an attestation document", path.display()))?;
        let report = decode_report(&doc)?;
        return Ok((doc, report));
    }
    Ok((Document::default(), bytes))
}

fn decode_report(doc: &Document) -> anyhow::Result<Vec<u8>> {
    let b64 = doc
        .report
        .as_deref()
        .context("the attestation document has no report")?;
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .context("the attestation document's report is not base64")
}

/// The binding hash the report must carry: from --binding, else from the document's binding
/// (which must then agree with its binding_hash), else its binding_hash alone.
fn expected_binding_hash(
    binding: Option<&Path>,
    doc: &Document,
) -> anyhow::Result<Option<[u8; 32]>> {
    if let Some(path) = binding {
        let bytes = super::read_file(path, "binding")?;
        let value: Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        return binding_hash_of(&value).map(Some);
    }
    let served = doc
        .binding_hash
        .as_deref()
        .map(parse_hex32)
        .transpose()
        .context("the document's binding_hash")?;
    match (&doc.binding, served) {
        (Some(binding), served) => {
            let hash = binding_hash_of(binding)?;
            if served.is_some_and(|s| s != hash) {
                bail!(
                    "the document's binding_hash is not the SHA-256 of its binding's canonical JSON"
                );
            }
            Ok(Some(hash))
        }
        (None, served) => Ok(served),
    }
}

fn binding_hash_of(binding: &Value) -> anyhow::Result<[u8; 32]> {
    parse_hex32(&lucid_ar::sha256_hex(&lucid_ar::canonical_bytes(binding)))
}

fn pem_from_doc(pem: Option<&str>, what: &str, hint: &str) -> anyhow::Result<Vec<u8>> {
    match pem {
        Some(pem) => Ok(pem.as_bytes().to_vec()),
        None => bail!("no {what} certificate in the attestation document: pass {hint}"),
    }
}

fn parse_hex32(s: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = hex::decode(s.trim()).context("not hex")?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| anyhow::anyhow!("{} bytes; expected 32 (64 hex characters)", b.len()))
}

/// GET URL/v1/attestation?nonce=HEX, bounded in time and size.
fn fetch(url: &str, nonce_hex: &str, api_key: Option<&str>) -> anyhow::Result<Vec<u8>> {
    let base = url.trim_end_matches('/').trim_end_matches("/v1");
    let target = format!("{base}/v1/attestation?nonce={nonce_hex}");
    let (status, body) = super::http_get(&target, url, api_key, MAX_DOCUMENT as usize)?;
    if !status.is_success() {
        bail!(
            "{target} answered {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(512)])
        );
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex32_parses_exactly_32_bytes() {
        assert_eq!(parse_hex32(&"ab".repeat(32)).unwrap(), [0xab; 32]);
        assert!(parse_hex32("abcd").is_err());
        assert!(parse_hex32(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn binding_hash_is_sha256_of_jcs() {
        let binding = serde_json::json!({"b": 1, "a": [true, null]});
        let hash = binding_hash_of(&binding).unwrap();
        assert_eq!(
            hex::encode(hash),
            lucid_ar::sha256_hex(br#"{"a":[true,null],"b":1}"#)
        );
        let doc = Document {
            binding: Some(binding),
            binding_hash: Some(hex::encode([0u8; 32])),
            ..Default::default()
        };
        assert!(
            expected_binding_hash(None, &doc).is_err(),
            "a binding_hash that disagrees is refused"
        );
    }
}
