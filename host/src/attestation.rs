//! Attestation of the running gateway: SEV-SNP reports (or clearly labelled mock ones) whose
//! `report_data` is the hash of the *binding* in force — the receipt signer's key and component,
//! the auditors, the plugin set, the policy, the config and the host binary (see
//! `lucid_ar::binding_of`) — followed by a verifier's nonce.
//!
//! A report without a nonce (zeros) is made for every binding the gateway signs under and kept
//! under `<data dir>/attestation/reports/<binding_hash>.json`, so that every AR (each carries its
//! `binding_hash`) can be tied to a report, also after a restart; a verifier asking with its own
//! nonce gets a fresh report.
//!
//! Owns: choosing the provider (`--attestation auto|sev-snp|mock`), the reports kept per binding.
//! Depends only on `lucid-attest` and `lucid-ar`; what the binding holds is the exchange room's
//! business ([`crate::exchange::ExchangeService::binding`]).

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use base64::Engine as _;
use lucid_attest::{Certificates, MockProvider, Mode, Provider, SevSnpProvider};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Largest report document read back or fetched (a report with its certificates is ~10 KiB).
pub const MAX_REPORT_DOC_BYTES: usize = 256 << 10;

/// Reports kept in memory (the files stay); a gateway rarely has more than a few bindings.
const MAX_CACHED: usize = 1024;

/// `--attestation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AttestationMode {
    /// SEV-SNP when `/dev/sev-guest` exists, else the mock.
    #[default]
    Auto,
    SevSnp,
    Mock,
}

impl std::str::FromStr for AttestationMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(AttestationMode::Auto),
            "sev-snp" => Ok(AttestationMode::SevSnp),
            "mock" => Ok(AttestationMode::Mock),
            other => Err(format!(
                "unknown attestation mode '{other}'; expected auto, sev-snp or mock"
            )),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AttestationError {
    #[error("{0}")]
    Provider(#[from] lucid_attest::AttestError),
    #[error("cannot keep attestation reports in {path}: {source}")]
    Store {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the binding has no hash")]
    Binding,
}

/// One attestation, as `GET /v1/attestation` serves it and as it is kept.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Attestation {
    /// `mock` or `sev-snp`.
    pub mode: Mode,
    /// The raw report, base64.
    pub report: String,
    pub binding: Value,
    pub binding_hash: String,
    /// The verifier's nonce (64 hex digits; zeros when none).
    pub nonce: String,
    pub certificates: Certificates,
    pub generated_at: String,
}

/// The provider and the reports made per binding.
pub struct Attestor {
    provider: Box<dyn Provider>,
    dir: PathBuf,
    kept: Mutex<HashMap<String, Arc<Attestation>>>,
}

impl Attestor {
    /// The provider `mode` asks for; reports (and the mock chain) under `data_dir/attestation`.
    pub fn open(mode: AttestationMode, data_dir: &Path) -> Result<Attestor, AttestationError> {
        let base = data_dir.join("attestation");
        create_private_dir(&base)?;
        let provider: Box<dyn Provider> = match mode {
            AttestationMode::SevSnp => Box::new(SevSnpProvider::open()?),
            AttestationMode::Auto if lucid_attest::sev_snp_available() => {
                Box::new(SevSnpProvider::open()?)
            }
            AttestationMode::Auto | AttestationMode::Mock => {
                tracing::warn!(
                    "MOCK ATTESTATION: reports are signed by a local chain under {}, not by AMD hardware",
                    base.display()
                );
                Box::new(MockProvider::open(&base)?)
            }
        };
        let dir = base.join("reports");
        create_private_dir(&dir)?;
        Ok(Attestor {
            provider,
            dir,
            kept: Mutex::new(HashMap::new()),
        })
    }

    pub fn mode(&self) -> Mode {
        self.provider.mode()
    }

    /// A fresh report for `binding` with the verifier's `nonce`.
    pub fn fresh(&self, binding: &Value, nonce: [u8; 32]) -> Result<Attestation, AttestationError> {
        let hash = lucid_ar::binding_hash(binding);
        let mut binding_hash = [0u8; 32];
        hex::decode_to_slice(&hash, &mut binding_hash).map_err(|_| AttestationError::Binding)?;
        let evidence = self
            .provider
            .report(&lucid_attest::report_data(&binding_hash, &nonce))?;
        Ok(Attestation {
            mode: self.provider.mode(),
            report: base64::engine::general_purpose::STANDARD.encode(&evidence.report),
            binding: binding.clone(),
            binding_hash: hash,
            nonce: hex::encode(nonce),
            certificates: evidence.certificates,
            generated_at: humantime::format_rfc3339_micros(SystemTime::now()).to_string(),
        })
    }

    /// The report kept for `binding` (nonce zeros), made and kept now if there is none.
    pub fn for_binding(&self, binding: &Value) -> Result<Arc<Attestation>, AttestationError> {
        let hash = lucid_ar::binding_hash(binding);
        if let Some(kept) = self.kept(&hash) {
            return Ok(kept);
        }
        let attestation = Arc::new(self.fresh(binding, [0u8; 32])?);
        let path = self.dir.join(format!("{hash}.json"));
        let text = serde_json::to_vec_pretty(&*attestation).unwrap_or_default();
        write_private(&path, &text).map_err(|source| AttestationError::Store {
            path: path.clone(),
            source,
        })?;
        tracing::info!(binding_hash = %hash, mode = %attestation.mode, "attested a new binding");
        self.remember(hash, attestation.clone());
        Ok(attestation)
    }

    /// Whether a report for `binding_hash` is in memory (cheap; see [`Attestor::kept`]).
    pub fn has(&self, binding_hash: &str) -> bool {
        self.kept
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(binding_hash)
    }

    /// The report kept for the binding with hash `binding_hash`, if any (from memory, else from
    /// its file; a file that does not parse or names another binding counts as none).
    pub fn kept(&self, binding_hash: &str) -> Option<Arc<Attestation>> {
        if binding_hash.len() != 64 || !binding_hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        if let Some(found) = self
            .kept
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(binding_hash)
        {
            return Some(found.clone());
        }
        let path = self.dir.join(format!("{binding_hash}.json"));
        let text = read_bounded(&path).ok()?;
        let attestation: Attestation = match serde_json::from_slice(&text) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(path = %path.display(), "ignoring a kept report that does not parse: {e}");
                return None;
            }
        };
        if attestation.binding_hash != binding_hash
            || lucid_ar::binding_hash(&attestation.binding) != binding_hash
        {
            tracing::warn!(path = %path.display(), "ignoring a kept report for another binding");
            return None;
        }
        let attestation = Arc::new(attestation);
        self.remember(binding_hash.to_string(), attestation.clone());
        Some(attestation)
    }

    fn remember(&self, hash: String, attestation: Arc<Attestation>) {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        if kept.len() >= MAX_CACHED {
            kept.clear();
        }
        kept.insert(hash, attestation);
    }
}

/// Per signing key of a chain (in chain order): its depths and the ARs it signed, and per
/// binding they carry (`binding_hash`, `None` for ARs from before bindings) the status `report`
/// gives it, asked once per binding — a splice's new key needs a report of its own. The shape of
/// `keys` in `GET /v1/attestation-chain` and in the passport.
pub fn keys_of(chain: &[Value], mut report: impl FnMut(Option<&str>) -> Value) -> Vec<Value> {
    let mut keys: Vec<Value> = Vec::new();
    for ar in chain {
        let key = ar["signer"]["public_key"].as_str().unwrap_or("");
        let depth = ar["chain_depth"].as_u64();
        let binding = ar["binding_hash"].as_str();
        if keys.last().is_none_or(|k| k["public_key"] != key) {
            keys.push(serde_json::json!({
                "public_key": key,
                "first_depth": depth,
                "last_depth": depth,
                "ars": 0,
                "bindings": [],
            }));
        }
        let Some(entry) = keys.last_mut() else {
            continue;
        };
        entry["last_depth"] = depth.into();
        entry["ars"] = (entry["ars"].as_u64().unwrap_or(0) + 1).into();
        let Some(bindings) = entry["bindings"].as_array_mut() else {
            continue;
        };
        match bindings
            .iter_mut()
            .find(|b| b["binding_hash"].as_str() == binding)
        {
            Some(b) => b["ars"] = (b["ars"].as_u64().unwrap_or(0) + 1).into(),
            None => bindings.push(serde_json::json!({
                "binding_hash": binding,
                "ars": 1,
                "report": report(binding),
            })),
        }
    }
    keys
}

fn create_private_dir(path: &Path) -> Result<(), AttestationError> {
    let failed = |source| AttestationError::Store {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() || !m.is_dir() => {
            return Err(failed(std::io::Error::other(
                "not a plain directory (a symlink or a file)",
            )));
        }
        Ok(_) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(failed(e)),
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path).map_err(failed)
}

/// Write `bytes` to `path` through a temporary file renamed into place.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Read a kept report: not through a symlink, at most [`MAX_REPORT_DOC_BYTES`].
fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
    let file = options.open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_REPORT_DOC_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() > MAX_REPORT_DOC_BYTES {
        return Err(std::io::Error::other("larger than a kept report can be"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_binding_is_attested_once_and_its_report_is_kept_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let binding = json!({"receipt_public_key": "k", "auditors": {}});
        let hash = lucid_ar::binding_hash(&binding);
        let attestor = Attestor::open(AttestationMode::Mock, dir.path()).unwrap();
        assert_eq!(attestor.mode(), Mode::Mock);
        assert!(attestor.kept(&hash).is_none());
        let first = attestor.for_binding(&binding).unwrap();
        assert_eq!(first.binding_hash, hash);
        assert_eq!(first.nonce, "0".repeat(64));
        let again = attestor.for_binding(&binding).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "made once");

        let report = base64::engine::general_purpose::STANDARD
            .decode(&first.report)
            .unwrap();
        assert_eq!(report.len(), lucid_attest::REPORT_LEN);
        let data = &report[lucid_attest::REPORT_DATA_OFFSET..][..64];
        assert_eq!(hex::encode(&data[..32]), hash);
        assert_eq!(data[32..], [0u8; 32]);

        let restarted = Attestor::open(AttestationMode::Mock, dir.path()).unwrap();
        assert_eq!(*restarted.kept(&hash).unwrap(), *first);

        // A tampered file naming another binding is not taken for this one.
        let path = dir.path().join(format!("attestation/reports/{hash}.json"));
        let mut doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        doc["binding"]["receipt_public_key"] = json!("other");
        std::fs::write(&path, doc.to_string()).unwrap();
        let fresh = Attestor::open(AttestationMode::Mock, dir.path()).unwrap();
        assert!(fresh.kept(&hash).is_none());
        assert!(fresh.kept("../../etc/passwd").is_none());
    }

    #[test]
    fn a_fresh_report_carries_the_nonce() {
        let dir = tempfile::tempdir().unwrap();
        let attestor = Attestor::open(AttestationMode::Mock, dir.path()).unwrap();
        let binding = json!({"x": 1});
        let a = attestor.fresh(&binding, [0xab; 32]).unwrap();
        let report = base64::engine::general_purpose::STANDARD
            .decode(&a.report)
            .unwrap();
        assert_eq!(
            report[lucid_attest::REPORT_DATA_OFFSET + 32..][..32],
            [0xab; 32]
        );
        assert_eq!(a.nonce, "ab".repeat(32));
    }

    #[test]
    fn sev_snp_is_used_exactly_when_the_device_exists() {
        let dir = tempfile::tempdir().unwrap();
        let opened = Attestor::open(AttestationMode::SevSnp, dir.path());
        if lucid_attest::sev_snp_available() {
            assert_eq!(opened.unwrap().mode(), Mode::SevSnp);
        } else {
            let err = opened.err().unwrap().to_string();
            assert!(err.contains("/dev/sev-guest"), "{err}");
            let auto = Attestor::open(AttestationMode::Auto, dir.path()).unwrap();
            assert_eq!(auto.mode(), Mode::Mock);
        }
    }
}
