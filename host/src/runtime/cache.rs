//! The compile cache: components compiled by Cranelift, serialized as `.cwasm` files keyed by the
//! plugin's SHA-256, the engine's compatibility hash (wasmtime version and settings) and Lucid's
//! own engine options. A warm restart loads them instead of compiling again.
//!
//! A cache file is only trusted when its header names exactly the expected key and its payload
//! hashes to the digest in the header; anything else is deleted and recompiled.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use crate::runtime::plugin::{PluginError, compile};
use crate::runtime::sandbox::Sandbox;

const MAGIC: &[u8] = b"LUCID-CWASM/1\n";

/// A directory of compiled components.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
    engine_key: String,
}

/// Where a component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    Hit,
    Miss,
}

struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

impl CompileCache {
    pub fn new(dir: impl Into<PathBuf>, sandbox: &Sandbox) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        let mut hasher = ShaHasher(Sha256::new());
        sandbox
            .engine()
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        hasher.0.update(sandbox.options().fingerprint().as_bytes());
        Ok(CompileCache {
            dir,
            engine_key: hex::encode(hasher.0.finalize()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn key(&self, sha256: &str) -> String {
        hex::encode(Sha256::digest(format!("{sha256}\n{}", self.engine_key)))
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.cwasm"))
    }

    /// The compiled form of `bytes` (whose SHA-256 is `sha256`): from the cache when a valid
    /// entry exists, otherwise compiled and stored.
    pub fn get_or_compile(
        &self,
        sandbox: &Sandbox,
        sha256: &str,
        bytes: &[u8],
    ) -> Result<(Component, CacheOutcome), PluginError> {
        let key = self.key(sha256);
        let path = self.path(&key);
        if let Some(component) = self.load(sandbox, &key, &path) {
            return Ok((component, CacheOutcome::Hit));
        }
        let component = compile(sandbox, bytes)?;
        match component.serialize() {
            Ok(payload) => {
                if let Err(e) = self.store(&key, &path, &payload) {
                    tracing::warn!(path = %path.display(), "cannot write compile cache entry: {e}");
                }
            }
            Err(e) => tracing::warn!("cannot serialize compiled component: {e:#}"),
        }
        Ok((component, CacheOutcome::Miss))
    }

    fn load(&self, sandbox: &Sandbox, key: &str, path: &Path) -> Option<Component> {
        let data = std::fs::read(path).ok()?;
        let payload = match parse_entry(&data, key) {
            Ok(payload) => payload,
            Err(reason) => {
                tracing::warn!(path = %path.display(), "discarding compile cache entry: {reason}");
                let _ = std::fs::remove_file(path);
                return None;
            }
        };
        // SAFETY: `deserialize` trusts its input to be code compiled by a compatible wasmtime.
        // The entry's header names this exact key (plugin hash + engine compatibility hash) and
        // its payload matches the SHA-256 recorded when this host wrote it, so the bytes are what
        // `Component::serialize` produced for this plugin on a compatible engine. The cache
        // directory lives in the gateway's data dir, which only the gateway writes.
        match unsafe { Component::deserialize(sandbox.engine(), payload) } {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(path = %path.display(), "discarding compile cache entry: {e:#}");
                let _ = std::fs::remove_file(path);
                None
            }
        }
    }

    fn store(&self, key: &str, path: &Path, payload: &[u8]) -> std::io::Result<()> {
        let digest = hex::encode(Sha256::digest(payload));
        let tmp = self.dir.join(format!(".{key}.{}.tmp", std::process::id()));
        {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(MAGIC)?;
            file.write_all(format!("{key}\n{digest}\n").as_bytes())?;
            file.write_all(payload)?;
            file.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    }
}

/// Check an entry's header against `key` and its payload digest; return the payload.
fn parse_entry<'a>(data: &'a [u8], key: &str) -> Result<&'a [u8], &'static str> {
    let rest = data.strip_prefix(MAGIC).ok_or("bad magic")?;
    if rest.len() < 130 {
        return Err("truncated header");
    }
    let (header, payload) = rest.split_at(130);
    let header = std::str::from_utf8(header).map_err(|_| "bad header")?;
    let (stored_key, stored_digest) = header
        .strip_suffix('\n')
        .and_then(|h| h.split_once('\n'))
        .ok_or("bad header")?;
    if stored_key != key {
        return Err("entry was written for another key");
    }
    if stored_digest != hex::encode(Sha256::digest(payload)) {
        return Err("payload does not match its digest");
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, payload: &[u8]) -> Vec<u8> {
        let mut data = MAGIC.to_vec();
        data.extend_from_slice(
            format!("{key}\n{}\n", hex::encode(Sha256::digest(payload))).as_bytes(),
        );
        data.extend_from_slice(payload);
        data
    }

    #[test]
    fn entries_are_checked_against_key_and_digest() {
        let key = "a".repeat(64);
        let data = entry(&key, b"compiled");
        assert_eq!(parse_entry(&data, &key), Ok(&b"compiled"[..]));
        assert!(parse_entry(&data, &"b".repeat(64)).is_err());
        let mut tampered = data.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(parse_entry(&tampered, &key).is_err());
        assert!(parse_entry(&data[..20], &key).is_err());
        assert!(parse_entry(b"garbage", &key).is_err());
    }
}
