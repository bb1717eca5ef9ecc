//! The compile cache: components compiled by Cranelift, serialized as `.cwasm` files keyed by the
//! plugin's SHA-256, the engine's compatibility hash (wasmtime version and settings) and Lucid's
//! own engine options. A warm restart loads them instead of compiling again.
//!
//! A cache file is native code that will run in this process, so it is only trusted when it is
//! *authenticated*: its header names exactly the expected key and carries an HMAC-SHA256 of key
//! and payload under a secret ([`CacheKey`]) that lives outside the data dir. Whoever can write
//! the cache directory but not that secret cannot make the host run their code; anything that
//! does not authenticate is deleted and recompiled.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use crate::runtime::plugin::{PluginError, compile};
use crate::runtime::sandbox::Sandbox;

const MAGIC: &[u8] = b"LUCID-CWASM/2\n";

type HmacSha256 = hmac::Hmac<Sha256>;

/// The secret that authenticates compile cache entries: 32 random bytes, kept in a file outside
/// the data dir, created on first use (mode 0600).
#[derive(Clone)]
pub struct CacheKey([u8; 32]);

impl std::fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CacheKey(..)")
    }
}

/// Why the cache key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CacheKeyError {
    #[error(
        "the compile cache key {path} is inside the data dir {data_dir}; it must live where the data dir's writers cannot reach it"
    )]
    InsideDataDir { path: PathBuf, data_dir: PathBuf },
    #[error("cannot read or create the compile cache key {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the compile cache key {path} is not 64 hex characters")]
    Malformed { path: PathBuf },
    #[error(
        "the compile cache key {path} can be read or written by other users (mode {mode:o}); make it 0600"
    )]
    Permissions { path: PathBuf, mode: u32 },
}

impl CacheKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        CacheKey(bytes)
    }

    /// Where the key lives by default: `$XDG_STATE_HOME/lucid/cache.key`, else
    /// `$HOME/.local/state/lucid/cache.key`; `None` without either variable.
    pub fn default_path() -> Option<PathBuf> {
        let state = std::env::var_os("XDG_STATE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".local/state"))
            })?;
        Some(state.join("lucid/cache.key"))
    }

    /// Read the key at `path`, creating it if it does not exist. Refused when `path` is inside
    /// `data_dir`, or when other users may read or write it.
    pub fn load_or_create(path: &Path, data_dir: &Path) -> Result<CacheKey, CacheKeyError> {
        let io = |source| CacheKeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let resolve = |p: &Path| {
            let parent = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            std::fs::create_dir_all(parent)?;
            let parent = parent.canonicalize()?;
            Ok::<_, std::io::Error>(match p.file_name() {
                Some(name) => parent.join(name),
                None => parent,
            })
        };
        let key_path = resolve(path).map_err(io)?;
        std::fs::create_dir_all(data_dir).map_err(io)?;
        let data = data_dir.canonicalize().map_err(io)?;
        if key_path.starts_with(&data) {
            return Err(CacheKeyError::InsideDataDir {
                path: key_path,
                data_dir: data,
            });
        }
        let mut bytes = [0u8; 32];
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode_0600()
            .open(&key_path)
        {
            Ok(mut file) => {
                getrandom::fill(&mut bytes)
                    .map_err(|e| io(std::io::Error::other(e.to_string())))?;
                file.write_all(hex::encode(bytes).as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                tracing::info!(path = %key_path.display(), "created the compile cache key");
                return Ok(CacheKey(bytes));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(e)),
        }
        // The file itself, not what a symlink points to; its mode checked on the open file.
        let mut open = std::fs::OpenOptions::new();
        open.read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            open.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
        }
        let file = open.open(&key_path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(io(std::io::Error::other("not a regular file")));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(CacheKeyError::Permissions {
                    path: key_path,
                    mode,
                });
            }
        }
        let mut text = String::new();
        {
            use std::io::Read;
            file.take(128).read_to_string(&mut text).map_err(io)?;
        }
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| CacheKeyError::Malformed {
            path: key_path.clone(),
        })?;
        Ok(CacheKey(bytes))
    }

    fn mac(&self, key: &str, payload: &[u8]) -> HmacSha256 {
        use hmac::{KeyInit, Mac};
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.0)
            .expect("hmac takes a key of any length");
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(payload);
        mac
    }

    fn tag(&self, key: &str, payload: &[u8]) -> String {
        use hmac::Mac;
        hex::encode(self.mac(key, payload).finalize().into_bytes())
    }

    /// Constant-time check of a tag.
    fn verify(&self, key: &str, payload: &[u8], tag_hex: &str) -> bool {
        use hmac::Mac;
        let mut tag = [0u8; 32];
        hex::decode_to_slice(tag_hex, &mut tag).is_ok()
            && self.mac(key, payload).verify_slice(&tag).is_ok()
    }
}

/// `OpenOptions::mode(0o600)` where the platform has modes.
trait ModeExt {
    fn mode_0600(&mut self) -> &mut Self;
}

impl ModeExt for std::fs::OpenOptions {
    fn mode_0600(&mut self) -> &mut Self {
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            self.mode(0o600);
        }
        self
    }
}

/// A directory of compiled components.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
    engine_key: String,
    secret: CacheKey,
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
    pub fn new(
        dir: impl Into<PathBuf>,
        sandbox: &Sandbox,
        secret: CacheKey,
    ) -> std::io::Result<Self> {
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
            secret,
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
        let data = match read_entry(path) {
            Ok(Some(data)) => data,
            Ok(None) => return None,
            Err(reason) => {
                tracing::warn!(path = %path.display(), "discarding compile cache entry: {reason}");
                let _ = std::fs::remove_file(path);
                return None;
            }
        };
        let payload = match parse_entry(&data, key, &self.secret) {
            Ok(payload) => payload,
            Err(reason) => {
                tracing::warn!(path = %path.display(), "discarding compile cache entry: {reason}");
                let _ = std::fs::remove_file(path);
                return None;
            }
        };
        // SAFETY: `deserialize` trusts its input to be code compiled by a compatible wasmtime.
        // The entry's header names this exact key (plugin hash + engine compatibility hash) and
        // its HMAC under the secret cache key (kept outside the data dir) verifies, so the bytes
        // are what `Component::serialize` produced for this plugin on a compatible engine, written
        // by a holder of the key: this host.
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
        let digest = self.secret.tag(key, payload);
        // A new file of a random name (never an existing one, never through a symlink someone
        // planted), renamed over the entry once complete.
        let mut file = tempfile::Builder::new()
            .prefix(".entry")
            .tempfile_in(&self.dir)?;
        file.write_all(MAGIC)?;
        file.write_all(format!("{key}\n{digest}\n").as_bytes())?;
        file.write_all(payload)?;
        file.as_file().sync_all()?;
        file.persist(path).map_err(|e| e.error)?;
        Ok(())
    }
}

/// Largest cache entry read back (compiled code of the largest plugin, with room to spare).
const MAX_ENTRY_BYTES: u64 = 1 << 30;

/// The bytes of an entry: `None` when there is none; an error for anything but a regular file
/// of a sane size (a symlink, a FIFO, a device are not followed or read).
fn read_entry(path: &Path) -> Result<Option<Vec<u8>>, String> {
    use std::io::Read;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot open it: {e}")),
    };
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > MAX_ENTRY_BYTES {
        return Err(format!("larger than {MAX_ENTRY_BYTES} bytes"));
    }
    let mut data = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_ENTRY_BYTES)
        .read_to_end(&mut data)
        .map_err(|e| e.to_string())?;
    Ok(Some(data))
}

/// Check an entry's header against `key` and its payload's HMAC; return the payload.
fn parse_entry<'a>(data: &'a [u8], key: &str, secret: &CacheKey) -> Result<&'a [u8], &'static str> {
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
    if !secret.verify(key, payload, stored_digest) {
        return Err("payload does not authenticate under the cache key");
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, payload: &[u8], secret: &CacheKey) -> Vec<u8> {
        let mut data = MAGIC.to_vec();
        data.extend_from_slice(format!("{key}\n{}\n", secret.tag(key, payload)).as_bytes());
        data.extend_from_slice(payload);
        data
    }

    #[test]
    fn entries_are_checked_against_key_and_their_hmac() {
        let secret = CacheKey::new([7; 32]);
        let key = "a".repeat(64);
        let data = entry(&key, b"compiled", &secret);
        assert_eq!(parse_entry(&data, &key, &secret), Ok(&b"compiled"[..]));
        assert!(parse_entry(&data, &"b".repeat(64), &secret).is_err());
        let mut tampered = data.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(parse_entry(&tampered, &key, &secret).is_err());
        assert!(parse_entry(&data[..20], &key, &secret).is_err());
        assert!(parse_entry(b"garbage", &key, &secret).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn entries_that_are_not_regular_files_are_not_followed_or_read() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, b"data").unwrap();
        let link = dir.path().join("link.cwasm");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(read_entry(&link).is_err(), "a symlink is not followed");
        let fifo = dir.path().join("fifo.cwasm");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(read_entry(&fifo).is_err(), "a FIFO is not read (no hang)");
        assert_eq!(read_entry(&dir.path().join("none")), Ok(None));
        assert_eq!(read_entry(&target), Ok(Some(b"data".to_vec())));
    }

    #[test]
    fn an_entry_forged_without_the_secret_is_refused() {
        let key = "a".repeat(64);
        // A plain digest (what an attacker who can write the cache could compute) is not a tag.
        let mut forged = MAGIC.to_vec();
        forged.extend_from_slice(
            format!("{key}\n{}\n", hex::encode(Sha256::digest(b"evil"))).as_bytes(),
        );
        forged.extend_from_slice(b"evil");
        let secret = CacheKey::new([7; 32]);
        assert!(parse_entry(&forged, &key, &secret).is_err());
        // Nor is an entry made under another secret.
        let other = entry(&key, b"evil", &CacheKey::new([8; 32]));
        assert!(parse_entry(&other, &key, &secret).is_err());
    }

    #[test]
    fn the_key_file_is_created_private_reused_and_refused_inside_the_data_dir() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        let path = root.path().join("state/lucid/cache.key");
        let a = CacheKey::load_or_create(&path, &data).unwrap();
        let b = CacheKey::load_or_create(&path, &data).unwrap();
        assert_eq!(a.0, b.0, "the key is reused");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                CacheKey::load_or_create(&path, &data),
                Err(CacheKeyError::Permissions { .. })
            ));
        }
        let inside = data.join("cache.key");
        assert!(matches!(
            CacheKey::load_or_create(&inside, &data),
            Err(CacheKeyError::InsideDataDir { .. })
        ));
        #[cfg(unix)]
        {
            // A key that is a symlink (say, into the data dir) is not followed.
            let inside = data.join("planted.key");
            std::fs::write(&inside, hex::encode([9u8; 32])).unwrap();
            let link = root.path().join("link.key");
            std::os::unix::fs::symlink(&inside, &link).unwrap();
            assert!(CacheKey::load_or_create(&link, &data).is_err());
        }
        let bad = root.path().join("bad.key");
        std::fs::write(&bad, "not hex").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert!(matches!(
            CacheKey::load_or_create(&bad, &data),
            Err(CacheKeyError::Malformed { .. })
        ));
    }
}
