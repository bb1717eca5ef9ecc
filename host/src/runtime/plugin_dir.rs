//! The plugin directory: every `*.wasm` regular file in it, read through a capability handle
//! (`cap-std`), measured, validated and loaded into an immutable `PluginSet`. Files that cannot be
//! used are refused with a reason that shows up in the listing.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::runtime::cache::CompileCache;
use crate::runtime::claim::ClaimType;
use crate::runtime::notary::TrustedKeys;
use crate::runtime::plugin::{Auditor, sha256_hex};
use crate::runtime::sandbox::{Limits, Sandbox};

/// Default cap on the size of one plugin file.
pub const DEFAULT_MAX_PLUGIN_BYTES: u64 = 32 << 20;

/// How plugins are admitted.
#[derive(Debug, Clone)]
pub struct Admission {
    pub max_file_bytes: u64,
    /// When set, every plugin needs a valid `FILE.wasm.sig` from one of these keys, or a record
    /// in `registry` signed by one of them.
    pub trusted_keys: Option<Arc<TrustedKeys>>,
    /// The `auditors/` directory of a registry (`--registry`): `<sha256>.json` records.
    pub registry: Option<Arc<Dir>>,
    /// Limits for the `describe` call made while loading.
    pub describe_limits: Limits,
}

impl Default for Admission {
    fn default() -> Self {
        Admission {
            max_file_bytes: DEFAULT_MAX_PLUGIN_BYTES,
            trusted_keys: None,
            registry: None,
            describe_limits: Limits {
                deadline: DESCRIBE_DEADLINE,
                ..Limits::default()
            },
        }
    }
}

/// The deadline of the `describe` call made once per plugin while loading: generous, so that a
/// busy machine (a start compiles every plugin at once) does not refuse a good plugin; a guest
/// that tries to block fails at once anyway.
pub const DESCRIBE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(1);

/// One file of the directory and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct PluginEntry {
    pub file: String,
    pub status: EntryStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Why the file was refused, or (for `loaded`) why a newer version on disk is not loaded yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How a loaded plugin's signature was checked, when signatures are required
    /// (`--require-signed`): the key that signed it and where the signature was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    Loaded,
    Refused,
}

/// A loaded auditor and the file it came from.
#[derive(Debug, Clone)]
pub struct LoadedPlugin {
    pub file: String,
    pub auditor: Auditor,
}

/// The set of plugins in force. Immutable: a reload builds a new one, and requests keep the
/// `Arc<PluginSet>` they started with.
#[derive(Debug, Clone, Default)]
pub struct PluginSet {
    /// Loaded auditors, sorted by id.
    pub plugins: Vec<LoadedPlugin>,
    /// Every `.wasm` file seen, sorted by file name.
    pub entries: Vec<PluginEntry>,
    /// SHA-256 over the sorted `id:sha256` lines (`"{id}:{sha256}\n"` each).
    pub hash: String,
}

impl PluginSet {
    /// Log every refusal (and every kept-old version) that `previous` did not already have.
    pub fn log_refusals(&self, previous: Option<&PluginSet>) {
        for e in &self.entries {
            let Some(reason) = &e.reason else { continue };
            let known = previous.is_some_and(|p| {
                p.entries
                    .iter()
                    .any(|o| o.file == e.file && o.reason.as_ref() == Some(reason))
            });
            if known {
                continue;
            }
            match e.status {
                EntryStatus::Refused => tracing::warn!(file = %e.file, "plugin refused: {reason}"),
                EntryStatus::Loaded => {
                    tracing::warn!(file = %e.file, "keeping the loaded version: {reason}")
                }
            }
        }
    }

    pub fn get(&self, id: &str) -> Option<&LoadedPlugin> {
        self.plugins.iter().find(|p| p.auditor.id() == id)
    }

    /// `(id, sha256)` of every loaded auditor, sorted by id.
    pub fn measurements(&self) -> BTreeMap<String, String> {
        self.plugins
            .iter()
            .map(|p| (p.auditor.id().to_string(), p.auditor.sha256.clone()))
            .collect()
    }
}

/// `plugin_set_hash`: SHA-256 over `"{id}:{sha256}\n"` for every loaded auditor, sorted by id.
pub fn plugin_set_hash<'a>(measurements: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut lines: Vec<String> = measurements
        .into_iter()
        .map(|(id, sha)| format!("{id}:{sha}\n"))
        .collect();
    lines.sort();
    hex::encode(Sha256::digest(lines.concat()))
}

/// Loads plugin directories. Remembers what it loaded by content hash, so a rescan does not
/// compile or describe unchanged files again.
pub struct PluginLoader {
    sandbox: Arc<Sandbox>,
    cache: Option<CompileCache>,
    admission: Admission,
    memo: HashMap<String, Result<Auditor, String>>,
}

/// Most plugin versions the loader remembers as loaded.
const MEMO_ENTRIES: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum PluginDirError {
    #[error("cannot open plugin directory {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot list plugin directory {path}: {source}")]
    List {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A file read from the directory, before validation.
struct Candidate {
    file: String,
    outcome: Result<FileRead, String>,
}

/// A plugin file's bytes, their SHA-256 and the bytes of its `.sig` file, if any.
struct FileRead {
    bytes: Vec<u8>,
    sha256: String,
    signature: Option<Vec<u8>>,
}

impl PluginLoader {
    pub fn new(sandbox: Arc<Sandbox>, cache: Option<CompileCache>, admission: Admission) -> Self {
        PluginLoader {
            sandbox,
            cache,
            admission,
            memo: HashMap::new(),
        }
    }

    pub fn sandbox(&self) -> &Arc<Sandbox> {
        &self.sandbox
    }

    /// Scan `path` and build a new set. `previous` is the set in force: a file that was loaded
    /// and now fails validation (say, it is being rewritten) keeps its previous version.
    pub fn scan(
        &mut self,
        path: &Path,
        previous: Option<&PluginSet>,
    ) -> Result<PluginSet, PluginDirError> {
        let dir = Dir::open_ambient_dir(path, ambient_authority()).map_err(|source| {
            PluginDirError::Open {
                path: path.to_path_buf(),
                source,
            }
        })?;
        let mut names: Vec<String> = Vec::new();
        let entries = dir.entries().map_err(|source| PluginDirError::List {
            path: path.to_path_buf(),
            source,
        })?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                tracing::warn!(dir = %path.display(), "ignoring a file whose name is not UTF-8");
                continue;
            };
            // Hidden files are where tools write before an atomic rename; never load them.
            if name.ends_with(".wasm") && !name.starts_with('.') {
                names.push(name.to_string());
            }
        }
        names.sort();
        let candidates: Vec<Candidate> = names
            .into_iter()
            .map(|file| {
                let outcome = read_candidate(&dir, &file, &self.admission);
                Candidate { file, outcome }
            })
            .collect();
        Ok(self.build_set(candidates, previous))
    }

    fn build_set(&mut self, candidates: Vec<Candidate>, previous: Option<&PluginSet>) -> PluginSet {
        let mut plugins: Vec<LoadedPlugin> = Vec::new();
        let mut entries: Vec<PluginEntry> = Vec::new();
        // Claim name -> (type, auditor id) over the plugins accepted so far.
        let mut claim_types: HashMap<String, (ClaimType, String)> = HashMap::new();
        for candidate in candidates {
            let file = candidate.file;
            let mut signer = None;
            let loaded = candidate.outcome.and_then(|read| {
                signer = self.check_signature(&file, &read)?;
                self.load(&read.bytes, &read.sha256)
            });
            let auditor = match loaded {
                Ok(a) => a,
                Err(reason) => {
                    let kept = previous.and_then(|p| p.plugins.iter().find(|l| l.file == file));
                    if let Some(old) = kept {
                        match admit(old.auditor.clone(), &plugins, &mut claim_types) {
                            Ok(()) => {
                                let mut entry = loaded_entry(
                                    &file,
                                    &old.auditor,
                                    Some(format!(
                                        "a newer version on disk is not loaded: {reason}"
                                    )),
                                );
                                entry.signer = previous
                                    .and_then(|p| p.entries.iter().find(|e| e.file == file))
                                    .and_then(|e| e.signer.clone());
                                entries.push(entry);
                                plugins.push(old.clone());
                            }
                            Err(conflict) => entries.push(refused(&file, None, conflict)),
                        }
                    } else {
                        entries.push(refused(&file, None, reason));
                    }
                    continue;
                }
            };
            match admit(auditor.clone(), &plugins, &mut claim_types) {
                Ok(()) => {
                    let mut entry = loaded_entry(&file, &auditor, None);
                    entry.signer = signer;
                    entries.push(entry);
                    plugins.push(LoadedPlugin { file, auditor });
                }
                Err(reason) => entries.push(refused(&file, Some(&auditor), reason)),
            }
        }
        plugins.sort_by(|a, b| a.auditor.id().cmp(b.auditor.id()));
        let hash = plugin_set_hash(
            plugins
                .iter()
                .map(|p| (p.auditor.id(), p.auditor.sha256.as_str())),
        );
        PluginSet {
            plugins,
            entries,
            hash,
        }
    }

    /// `None` when no signature is required; else how the plugin was found signed.
    fn check_signature(&self, file: &str, read: &FileRead) -> Result<Option<String>, String> {
        let Some(keys) = &self.admission.trusted_keys else {
            return Ok(None);
        };
        let by_file = keys.verify(
            &format!("{file}.sig"),
            read.signature.as_deref(),
            &read.sha256,
        );
        let by_file = match (by_file, &self.admission.registry) {
            (Ok(key_id), _) => {
                tracing::debug!(file, key_id, "plugin signature verified");
                return Ok(Some(format!("key {key_id} ({file}.sig)")));
            }
            (Err(e), None) => return Err(e.to_string()),
            (Err(e), Some(_)) => e,
        };
        let Some(registry) = &self.admission.registry else {
            return Err(by_file.to_string());
        };
        let record = format!("{}.json", read.sha256);
        match read_small(registry, &record, crate::runtime::notary::MAX_RECORD_BYTES) {
            Ok(Some(bytes)) => crate::runtime::notary::verify_record(keys, &bytes, &read.sha256)
                .map(|key_id| {
                    tracing::debug!(file, key_id, "plugin published in the registry");
                    Some(format!("key {key_id} (registry record)"))
                })
                .map_err(|e| format!("registry record {record}: {e}")),
            Ok(None) => Err(format!(
                "{by_file}, and the registry has no record of sha256 {}",
                read.sha256
            )),
            Err(e) => Err(format!("registry: {e}")),
        }
    }

    fn load(&mut self, bytes: &[u8], sha256: &str) -> Result<Auditor, String> {
        if let Some(known) = self.memo.get(sha256) {
            return known.clone();
        }
        let result = self.compile_and_describe(bytes, sha256);
        // Only successes are remembered: a failure may be transient (a describe deadline missed
        // on a busy machine), so the same bytes are tried again at the next scan. The memo is
        // bounded: it is dropped whole past `MEMO_ENTRIES` versions.
        if let Ok(auditor) = &result {
            if self.memo.len() >= MEMO_ENTRIES {
                self.memo.clear();
            }
            self.memo.insert(sha256.to_string(), Ok(auditor.clone()));
        }
        result
    }

    fn compile_and_describe(&self, bytes: &[u8], sha256: &str) -> Result<Auditor, String> {
        let limits = &self.admission.describe_limits;
        let started = std::time::Instant::now();
        let component = match &self.cache {
            Some(cache) => cache
                .get_or_compile(&self.sandbox, sha256, bytes)
                .map(|(c, _)| c),
            None => crate::runtime::plugin::compile(&self.sandbox, bytes),
        }
        .map_err(|e| e.to_string())?;
        let (functions, cached_bytes) = self.sandbox.function_cache_usage();
        tracing::debug!(
            sha256,
            compile_ms = started.elapsed().as_millis() as u64,
            cached_functions = functions,
            cached_bytes,
            "plugin compiled"
        );
        Auditor::from_component(
            &self.sandbox,
            component,
            sha256.to_string(),
            bytes.len() as u64,
            limits,
        )
        .map_err(|e| e.to_string())
    }
}

/// Check an auditor against those already accepted: unique id, and no claim name declared with
/// two different types.
fn admit(
    auditor: Auditor,
    accepted: &[LoadedPlugin],
    claim_types: &mut HashMap<String, (ClaimType, String)>,
) -> Result<(), String> {
    if let Some(other) = accepted.iter().find(|p| p.auditor.id() == auditor.id()) {
        return Err(format!(
            "duplicate auditor id '{}' (already loaded from {})",
            auditor.id(),
            other.file
        ));
    }
    for claim in &auditor.vocabulary.claims {
        if let Some((ty, owner)) = claim_types.get(&claim.name)
            && *ty != claim.ty
        {
            return Err(format!(
                "claim '{}' is declared as {} here but as {} by auditor '{owner}'",
                claim.name, claim.ty, ty
            ));
        }
    }
    for claim in &auditor.vocabulary.claims {
        claim_types
            .entry(claim.name.clone())
            .or_insert_with(|| (claim.ty, auditor.id().to_string()));
    }
    Ok(())
}

fn loaded_entry(file: &str, auditor: &Auditor, reason: Option<String>) -> PluginEntry {
    PluginEntry {
        file: file.to_string(),
        status: EntryStatus::Loaded,
        id: Some(auditor.id().to_string()),
        version: Some(auditor.vocabulary.version.clone()),
        sha256: Some(auditor.sha256.clone()),
        size: Some(auditor.size),
        reason,
        signer: None,
    }
}

fn refused(file: &str, auditor: Option<&Auditor>, reason: String) -> PluginEntry {
    PluginEntry {
        file: file.to_string(),
        status: EntryStatus::Refused,
        id: auditor.map(|a| a.id().to_string()),
        version: auditor.map(|a| a.vocabulary.version.clone()),
        sha256: auditor.map(|a| a.sha256.clone()),
        size: auditor.map(|a| a.size),
        reason: Some(reason),
        signer: None,
    }
}

/// Read one file through the directory capability: no symlink may lead outside the directory,
/// only regular files, and none over the size limit.
fn read_candidate(dir: &Dir, name: &str, admission: &Admission) -> Result<FileRead, String> {
    let meta = dir
        .symlink_metadata(name)
        .map_err(|e| format!("cannot read file metadata: {e}"))?;
    let meta = if meta.is_symlink() {
        // `Dir::metadata` follows the link but refuses to leave the directory.
        dir.metadata(name).map_err(|e| {
            format!("symlink leads outside the plugin directory or to nothing ({e})")
        })?
    } else {
        meta
    };
    if !meta.is_file() {
        return Err("not a regular file".to_string());
    }
    let max = admission.max_file_bytes;
    if meta.len() > max {
        return Err(format!(
            "file is {} bytes, over the limit of {max} bytes",
            meta.len()
        ));
    }
    let file = dir
        .open(name)
        .map_err(|e| format!("cannot open file: {e}"))?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read file: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!("file is over the limit of {max} bytes"));
    }
    let sha256 = sha256_hex(&bytes);
    let signature = if admission.trusted_keys.is_some() {
        read_signature(dir, &format!("{name}.sig"))?
    } else {
        None
    };
    Ok(FileRead {
        bytes,
        sha256,
        signature,
    })
}

/// The signature file next to a plugin, if present; small, regular and inside the directory.
fn read_signature(dir: &Dir, name: &str) -> Result<Option<Vec<u8>>, String> {
    read_small(dir, name, 64 << 10)
}

/// A small regular file of `dir`, if present.
fn read_small(dir: &Dir, name: &str, max: u64) -> Result<Option<Vec<u8>>, String> {
    match dir.metadata(name) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {name}: {e}")),
        Ok(meta) if !meta.is_file() => return Err(format!("{name} is not a regular file")),
        Ok(meta) if meta.len() > max => return Err(format!("{name} is too large")),
        Ok(_) => {}
    }
    let mut bytes = Vec::new();
    dir.open(name)
        .and_then(|f| f.take(max).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read {name}: {e}"))?;
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_set_hash_is_order_independent_and_content_sensitive() {
        let a = plugin_set_hash([("pii", "aa"), ("injection", "bb")]);
        let b = plugin_set_hash([("injection", "bb"), ("pii", "aa")]);
        assert_eq!(a, b);
        assert_ne!(a, plugin_set_hash([("pii", "aa"), ("injection", "bc")]));
        assert_eq!(
            plugin_set_hash(std::iter::empty()),
            hex::encode(Sha256::digest(b""))
        );
    }
}
