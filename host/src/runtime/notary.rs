//! Notarized auditors: a publisher signs the SHA-256 of a plugin with an Ed25519 key; a gateway
//! started with `--require-signed` loads only plugins signed by a key in its trusted-keys
//! directory.
//!
//! Files: a secret key is PKCS#8 PEM (`KEY`), its public key SPKI PEM (`KEY.pub`); the signature of
//! `FILE.wasm` is `FILE.wasm.sig`, a JSON document
//! `{"version": "lucid-auditor-sig/1", "sha256", "key_id", "signature"}` where `signature` is the
//! hex Ed25519 signature over the 32 raw bytes of the plugin's SHA-256 and `key_id` is the hex
//! SHA-256 of the 32-byte public key.
//!
//! A *registry* is a directory an operator trusts as a whole (`lucid auditor publish … --registry
//! DIR`, `lucid serve --require-signed --registry DIR`):
//!
//! ```text
//! DIR/keys/<key_id>.pub           the publisher keys the registry trusts (SPKI PEM)
//! DIR/auditors/<sha256>.json      one record per published plugin (RegistryRecord)
//! ```
//!
//! A record carries the same signature as a `FILE.wasm.sig`, so a plugin is admitted when its
//! exact bytes were published by a key of the registry, with no file next to the plugin.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const SIGNATURE_VERSION: &str = "lucid-auditor-sig/1";

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not an Ed25519 private key in PKCS#8 PEM form: {reason}")]
    BadSecretKey { path: PathBuf, reason: String },
    #[error("{path} is not an Ed25519 public key in SPKI PEM form: {reason}")]
    BadPublicKey { path: PathBuf, reason: String },
    #[error("{path} already exists; refusing to overwrite a key")]
    Exists { path: PathBuf },
    #[error("no entropy available: {0}")]
    Entropy(String),
    #[error("the plugin is not signed (no {0} next to it)")]
    Unsigned(String),
    #[error("the signature file is malformed: {0}")]
    Malformed(String),
    #[error("the signature is for sha256 {signed}, but the file's sha256 is {actual}")]
    WrongDigest { signed: String, actual: String },
    #[error("the signature's key {0} is not among the trusted keys")]
    UntrustedKey(String),
    #[error("the signature does not verify with key {0}")]
    BadSignature(String),
    #[error("the trusted-keys directory {0} holds no *.pub key")]
    NoTrustedKeys(PathBuf),
    #[error(
        "key {key_id} is not trusted by the registry {registry}; to trust it, copy its public key there: cp KEY.pub {registry}/keys/{key_id}.pub (or publish with --trust-key)"
    )]
    KeyNotInRegistry { key_id: String, registry: PathBuf },
    #[error("{0} is not a registry: it has no keys/ directory (the first publish creates one)")]
    NotARegistry(PathBuf),
}

/// The signature document stored next to a plugin.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignatureFile {
    pub version: String,
    pub sha256: String,
    pub key_id: String,
    pub signature: String,
}

/// Hex SHA-256 of the 32-byte public key.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Generate a key pair and write `out` (secret, mode 0600) and `out.pub`. Returns the key id.
pub fn keygen(out: &Path) -> Result<String, SigningError> {
    let public_path = pub_path(out);
    for path in [out, public_path.as_path()] {
        if path.exists() {
            return Err(SigningError::Exists {
                path: path.to_path_buf(),
            });
        }
    }
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(|e| SigningError::Entropy(e.to_string()))?;
    let key = SigningKey::from_bytes(&seed);
    let secret_pem = key
        .to_pkcs8_pem(Default::default())
        .map_err(|e| SigningError::Entropy(e.to_string()))?;
    let public_pem = key
        .verifying_key()
        .to_public_key_pem(Default::default())
        .map_err(|e| SigningError::Entropy(e.to_string()))?;
    write_secret(out, secret_pem.as_bytes())?;
    std::fs::write(&public_path, public_pem.as_bytes()).map_err(|source| SigningError::Write {
        path: public_path.clone(),
        source,
    })?;
    Ok(key_id(&key.verifying_key()))
}

fn pub_path(secret: &Path) -> PathBuf {
    let mut name = secret.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), SigningError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let wrap = |source| SigningError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut file = options.open(path).map_err(wrap)?;
    file.write_all(bytes).map_err(wrap)?;
    file.sync_all().map_err(wrap)
}

fn read_text(path: &Path) -> Result<String, SigningError> {
    std::fs::read_to_string(path).map_err(|source| SigningError::Read {
        path: path.to_path_buf(),
        source,
    })
}

pub fn read_secret_key(path: &Path) -> Result<SigningKey, SigningError> {
    SigningKey::from_pkcs8_pem(&read_text(path)?).map_err(|e| SigningError::BadSecretKey {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

pub fn read_public_key(path: &Path) -> Result<VerifyingKey, SigningError> {
    VerifyingKey::from_public_key_pem(&read_text(path)?).map_err(|e| SigningError::BadPublicKey {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Sign a plugin's SHA-256 (hex) and return the signature document.
pub fn sign_digest(key: &SigningKey, sha256: &str) -> Result<SignatureFile, SigningError> {
    let digest = decode_digest(sha256)?;
    Ok(SignatureFile {
        version: SIGNATURE_VERSION.to_string(),
        sha256: sha256.to_string(),
        key_id: key_id(&key.verifying_key()),
        signature: hex::encode(key.sign(&digest).to_bytes()),
    })
}

fn decode_digest(sha256: &str) -> Result<[u8; 32], SigningError> {
    let bytes = hex::decode(sha256).map_err(|e| SigningError::Malformed(format!("sha256: {e}")))?;
    bytes
        .try_into()
        .map_err(|_| SigningError::Malformed("sha256 is not 32 bytes".into()))
}

pub const REGISTRY_VERSION: &str = "lucid-registry/1";

/// Largest registry record read (records are a few hundred bytes).
pub const MAX_RECORD_BYTES: u64 = 64 << 10;

/// What a registry records of one published plugin: `DIR/auditors/<sha256>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegistryRecord {
    pub registry: String,
    /// The auditor's vocabulary id and version, as its `describe` says.
    pub id: String,
    pub version: String,
    /// `lucid:auditor@0.2` …
    pub contract: String,
    /// The file name it was published from, for people; admission goes by digest only.
    pub file: String,
    pub size: u64,
    pub published_at: String,
    /// The signature over the plugin's SHA-256, as in `FILE.wasm.sig`.
    pub signature: SignatureFile,
}

/// A registry directory (see the module docs).
#[derive(Debug, Clone)]
pub struct Registry {
    root: PathBuf,
}

impl Registry {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Registry { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn keys_dir(&self) -> PathBuf {
        self.root.join("keys")
    }

    pub fn auditors_dir(&self) -> PathBuf {
        self.root.join("auditors")
    }

    pub fn record_path(&self, sha256: &str) -> PathBuf {
        self.auditors_dir().join(format!("{sha256}.json"))
    }

    /// The keys the registry trusts.
    pub fn trusted_keys(&self) -> Result<TrustedKeys, SigningError> {
        let dir = self.keys_dir();
        if !dir.is_dir() {
            return Err(SigningError::NotARegistry(self.root.clone()));
        }
        TrustedKeys::load_dir(&dir)
    }

    /// Record `record` (signed by `key`) in the registry. A registry with no keys yet (a new one)
    /// starts trusting `key`; an existing one must already trust it, unless `trust_key`.
    pub fn publish(
        &self,
        key: &SigningKey,
        record: &RegistryRecord,
        trust_key: bool,
    ) -> Result<PathBuf, SigningError> {
        let write_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SigningError::Write { path, source }
        };
        let keys_dir = self.keys_dir();
        std::fs::create_dir_all(&keys_dir).map_err(write_err(&keys_dir))?;
        let auditors = self.auditors_dir();
        std::fs::create_dir_all(&auditors).map_err(write_err(&auditors))?;
        let id = key_id(&key.verifying_key());
        let trusted = match TrustedKeys::load_dir(&keys_dir) {
            Ok(keys) => Some(keys),
            Err(SigningError::NoTrustedKeys(_)) => None,
            Err(e) => return Err(e),
        };
        let known = trusted.as_ref().is_some_and(|k| k.keys.contains_key(&id));
        if !known {
            if trusted.is_some() && !trust_key {
                return Err(SigningError::KeyNotInRegistry {
                    key_id: id,
                    registry: self.root.clone(),
                });
            }
            let pem = key
                .verifying_key()
                .to_public_key_pem(Default::default())
                .map_err(|e| SigningError::Entropy(e.to_string()))?;
            let path = keys_dir.join(format!("{id}.pub"));
            std::fs::write(&path, pem.as_bytes()).map_err(write_err(&path))?;
        }
        let path = self.record_path(&record.signature.sha256);
        let text = serde_json::to_string_pretty(record)
            .map_err(|e| SigningError::Malformed(e.to_string()))?;
        // Written whole then renamed: a gateway reading the registry never sees half a record.
        let tmp = auditors.join(format!(".{}.tmp", record.signature.sha256));
        std::fs::write(&tmp, text + "\n").map_err(write_err(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(write_err(&path))?;
        Ok(path)
    }
}

/// Check a registry record (its bytes) for a plugin of digest `sha256` against `keys`.
pub fn verify_record(
    keys: &TrustedKeys,
    bytes: &[u8],
    sha256: &str,
) -> Result<String, SigningError> {
    let record: RegistryRecord = serde_json::from_slice(bytes)
        .map_err(|e| SigningError::Malformed(format!("registry record: {e}")))?;
    if record.registry != REGISTRY_VERSION {
        return Err(SigningError::Malformed(format!(
            "registry record version '{}', expected '{REGISTRY_VERSION}'",
            record.registry
        )));
    }
    let signature = serde_json::to_vec(&record.signature)
        .map_err(|e| SigningError::Malformed(e.to_string()))?;
    keys.verify("registry record", Some(&signature), sha256)
}

/// The public keys a gateway trusts, by key id.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    keys: BTreeMap<String, VerifyingKey>,
}

impl TrustedKeys {
    /// Every `*.pub` file of `dir`.
    pub fn load_dir(dir: &Path) -> Result<Self, SigningError> {
        let entries = std::fs::read_dir(dir).map_err(|source| SigningError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut keys = BTreeMap::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "pub") {
                let key = read_public_key(&path)?;
                keys.insert(key_id(&key), key);
            }
        }
        if keys.is_empty() {
            return Err(SigningError::NoTrustedKeys(dir.to_path_buf()));
        }
        Ok(TrustedKeys { keys })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Both sets of keys.
    pub fn merge(mut self, other: TrustedKeys) -> Self {
        self.keys.extend(other.keys);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Check a plugin's signature document (the bytes of `FILE.wasm.sig`, if there is one) against
    /// the plugin's actual SHA-256. Returns the id of the key that signed it.
    pub fn verify(
        &self,
        sig_name: &str,
        sig: Option<&[u8]>,
        sha256: &str,
    ) -> Result<String, SigningError> {
        let sig = sig.ok_or_else(|| SigningError::Unsigned(sig_name.to_string()))?;
        let doc: SignatureFile =
            serde_json::from_slice(sig).map_err(|e| SigningError::Malformed(e.to_string()))?;
        if doc.version != SIGNATURE_VERSION {
            return Err(SigningError::Malformed(format!(
                "version '{}', expected '{SIGNATURE_VERSION}'",
                doc.version
            )));
        }
        if doc.sha256 != sha256 {
            return Err(SigningError::WrongDigest {
                signed: doc.sha256,
                actual: sha256.to_string(),
            });
        }
        let key = self
            .keys
            .get(&doc.key_id)
            .ok_or_else(|| SigningError::UntrustedKey(doc.key_id.clone()))?;
        let bytes = hex::decode(&doc.signature)
            .map_err(|e| SigningError::Malformed(format!("signature: {e}")))?;
        let signature = Signature::from_slice(&bytes)
            .map_err(|e| SigningError::Malformed(format!("signature: {e}")))?;
        key.verify(&decode_digest(sha256)?, &signature)
            .map_err(|_| SigningError::BadSignature(doc.key_id.clone()))?;
        Ok(doc.key_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_sign_verify_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join("publisher");
        let id = keygen(&key_path).unwrap();
        assert!(keygen(&key_path).is_err(), "keygen must not overwrite");
        let key = read_secret_key(&key_path).unwrap();
        let trusted_dir = dir.path().join("trusted");
        std::fs::create_dir(&trusted_dir).unwrap();
        std::fs::copy(pub_path(&key_path), trusted_dir.join("publisher.pub")).unwrap();
        let trusted = TrustedKeys::load_dir(&trusted_dir).unwrap();

        let sha = hex::encode(Sha256::digest(b"plugin bytes"));
        let doc = sign_digest(&key, &sha).unwrap();
        assert_eq!(doc.key_id, id);
        let bytes = serde_json::to_vec(&doc).unwrap();
        assert_eq!(
            trusted.verify("p.wasm.sig", Some(&bytes), &sha).unwrap(),
            id
        );

        let other = hex::encode(Sha256::digest(b"other bytes"));
        assert!(matches!(
            trusted.verify("p.wasm.sig", Some(&bytes), &other),
            Err(SigningError::WrongDigest { .. })
        ));
        assert!(matches!(
            trusted.verify("p.wasm.sig", None, &sha),
            Err(SigningError::Unsigned(_))
        ));
        let mut forged = doc.clone();
        forged.signature = hex::encode([7u8; 64]);
        assert!(matches!(
            trusted.verify(
                "p.wasm.sig",
                Some(&serde_json::to_vec(&forged).unwrap()),
                &sha
            ),
            Err(SigningError::BadSignature(_))
        ));

        let stranger = SigningKey::from_bytes(&[9u8; 32]);
        let foreign = serde_json::to_vec(&sign_digest(&stranger, &sha).unwrap()).unwrap();
        assert!(matches!(
            trusted.verify("p.wasm.sig", Some(&foreign), &sha),
            Err(SigningError::UntrustedKey(_))
        ));
    }
}
