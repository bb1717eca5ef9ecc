//! The plugin directory: what is loaded, what is refused and why, hot reload, the compile cache
//! and notarized plugins.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lucid::runtime::cache::{CacheKey, CacheOutcome, CompileCache};
use lucid::runtime::notary::{self, TrustedKeys};
use lucid::runtime::plugin_dir::{
    Admission, EntryStatus, PluginEntry, PluginLoader, PluginSet, plugin_set_hash,
};
use lucid::runtime::reload::{PluginHost, watch};

use crate::util::{guest, plugin, sandbox};

fn loader(admission: Admission) -> PluginLoader {
    PluginLoader::new(sandbox(), None, admission)
}

fn entry<'a>(set: &'a PluginSet, file: &str) -> &'a PluginEntry {
    set.entries
        .iter()
        .find(|e| e.file == file)
        .unwrap_or_else(|| panic!("no entry {file} in {:#?}", set.entries))
}

fn refusal<'a>(set: &'a PluginSet, file: &str) -> &'a str {
    let e = entry(set, file);
    assert_eq!(e.status, EntryStatus::Refused, "{e:?}");
    e.reason.as_deref().unwrap()
}

fn copy(from: &Path, dir: &Path, name: &str) {
    std::fs::copy(from, dir.join(name)).unwrap();
}

#[test]
fn loads_auditors_and_refuses_everything_else_with_a_reason() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("plugins");
    let outside = root.path().join("outside");
    std::fs::create_dir_all(dir.join("store")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();

    copy(&plugin("pii"), &dir, "pii.wasm");
    copy(&plugin("pii"), &dir, "pii_copy.wasm");
    copy(&plugin("token_budget"), &dir.join("store"), "tb.wasm");
    std::os::unix::fs::symlink("store/tb.wasm", dir.join("linked.wasm")).unwrap();
    copy(&plugin("injection"), &outside, "injection.wasm");
    std::os::unix::fs::symlink(outside.join("injection.wasm"), dir.join("escape.wasm")).unwrap();
    std::os::unix::fs::symlink("../outside/injection.wasm", dir.join("relative.wasm")).unwrap();
    std::fs::create_dir(dir.join("folder.wasm")).unwrap();
    let fifo = std::process::Command::new("mkfifo")
        .arg(dir.join("pipe.wasm"))
        .status()
        .unwrap();
    assert!(fifo.success());
    std::fs::write(dir.join("huge.wasm"), vec![0u8; 2 << 20]).unwrap();
    std::fs::write(dir.join("core.wasm"), wat::parse_str("(module)").unwrap()).unwrap();
    std::fs::write(
        dir.join("other.wasm"),
        wat::parse_str("(component)").unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("random.wasm"), b"definitely not wasm").unwrap();
    // Conflicts are resolved in file-name order: the first file keeps its claims.
    copy(&guest("conflict"), &dir, "zz_conflict.wasm");
    copy(&guest("describe_trap"), &dir, "describe_trap.wasm");
    copy(&plugin("injection"), &dir, ".injection.wasm.tmp.wasm");
    std::fs::write(dir.join("notes.txt"), "ignored").unwrap();

    let set = loader(Admission {
        max_file_bytes: 1 << 20,
        ..Admission::default()
    })
    .scan(&dir, None)
    .unwrap();

    let loaded: Vec<(&str, &str)> = set
        .plugins
        .iter()
        .map(|p| (p.file.as_str(), p.auditor.id()))
        .collect();
    assert_eq!(
        loaded,
        [("pii.wasm", "pii"), ("linked.wasm", "token_budget")]
    );
    assert!(refusal(&set, "pii_copy.wasm").contains("duplicate auditor id 'pii'"));
    assert!(refusal(&set, "escape.wasm").contains("outside the plugin directory"));
    assert!(refusal(&set, "relative.wasm").contains("outside the plugin directory"));
    assert!(refusal(&set, "folder.wasm").contains("not a regular file"));
    assert!(refusal(&set, "pipe.wasm").contains("not a regular file"));
    assert!(refusal(&set, "huge.wasm").contains("over the limit"));
    assert!(refusal(&set, "core.wasm").contains("core WebAssembly module"));
    assert!(refusal(&set, "other.wasm").contains("does not export"));
    assert!(refusal(&set, "random.wasm").contains("not a WebAssembly file"));
    assert!(
        refusal(&set, "zz_conflict.wasm")
            .contains("claim 'pii_detected' is declared as count here but as boolean"),
        "{}",
        refusal(&set, "zz_conflict.wasm")
    );
    assert!(refusal(&set, "describe_trap.wasm").contains("cannot describe myself"));
    assert!(set.entries.iter().all(|e| !e.file.starts_with('.')));
    assert!(set.entries.iter().all(|e| e.file != "notes.txt"));

    let expected = plugin_set_hash(
        set.plugins
            .iter()
            .map(|p| (p.auditor.id(), p.auditor.sha256.as_str())),
    );
    assert_eq!(set.hash, expected);
    let pii = entry(&set, "pii.wasm");
    assert_eq!(
        pii.sha256.as_deref().unwrap(),
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
            std::fs::read(plugin("pii")).unwrap()
        ))
    );
}

#[test]
fn a_missing_directory_is_an_error() {
    let err = loader(Admission::default())
        .scan(Path::new("/nonexistent/plugins"), None)
        .expect_err("error");
    assert!(err.to_string().contains("/nonexistent/plugins"), "{err}");
}

/// Wait (bounded) until `cond` holds for the host's current set.
fn eventually(host: &PluginHost, what: &str, cond: impl Fn(&PluginSet) -> bool) -> Duration {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if cond(&host.current()) {
            return started.elapsed();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!(
        "timed out waiting for: {what}; set: {:#?}",
        host.current().entries
    );
}

#[test]
fn hot_reload_adds_replaces_and_removes_plugins_atomically() {
    let dir = tempfile::tempdir().unwrap();
    copy(&plugin("pii"), dir.path(), "pii.wasm");
    let host = Arc::new(PluginHost::open(dir.path(), loader(Admission::default())).unwrap());
    let changes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = changes.clone();
    let _guard = watch(host.clone(), move |_| {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    })
    .unwrap();
    let first = host.current();
    assert_eq!(first.plugins.len(), 1);

    // Add.
    copy(&plugin("injection"), dir.path(), "injection.wasm");
    eventually(&host, "injection loaded", |s| s.get("injection").is_some());
    let second = host.current();
    assert_ne!(second.hash, first.hash);
    // The old set is untouched and still usable by whoever holds it.
    assert_eq!(first.plugins.len(), 1);
    assert!(first.get("pii").is_some());

    // Replace with a half-written file: the old version stays loaded, with a note.
    let bytes = std::fs::read(plugin("token_budget")).unwrap();
    std::fs::write(dir.path().join("injection.wasm"), &bytes[..bytes.len() / 2]).unwrap();
    eventually(&host, "half-written file noticed", |s| {
        entry(s, "injection.wasm").reason.is_some()
    });
    let during = host.current();
    assert_eq!(entry(&during, "injection.wasm").status, EntryStatus::Loaded);
    assert!(during.get("injection").is_some());
    assert_eq!(during.hash, second.hash);

    // Finish writing: the new version (another auditor) takes over.
    std::fs::write(dir.path().join("injection.wasm"), &bytes).unwrap();
    eventually(&host, "replacement loaded", |s| {
        s.get("token_budget").is_some() && s.get("injection").is_none()
    });
    assert!(entry(&host.current(), "injection.wasm").reason.is_none());

    // Remove.
    std::fs::remove_file(dir.path().join("injection.wasm")).unwrap();
    eventually(&host, "removal", |s| s.plugins.len() == 1);
    assert_eq!(host.current().hash, first.hash);
    assert!(changes.load(std::sync::atomic::Ordering::SeqCst) >= 4);
}

#[test]
fn a_warm_compile_cache_is_used_and_a_bad_entry_is_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(plugin("token_budget")).unwrap();
    let sha = lucid::runtime::plugin::sha256_hex(&bytes);
    let secret = CacheKey::new([3; 32]);
    let cache = CompileCache::new(dir.path(), &sandbox(), secret.clone()).unwrap();
    let (_, first) = cache.get_or_compile(&sandbox(), &sha, &bytes).unwrap();
    assert_eq!(first, CacheOutcome::Miss);
    // The same entry under another secret (someone who can write the cache dir but does not
    // hold the key) is not trusted.
    let stranger = CompileCache::new(dir.path(), &sandbox(), CacheKey::new([4; 32])).unwrap();
    let (_, foreign) = stranger.get_or_compile(&sandbox(), &sha, &bytes).unwrap();
    assert_eq!(foreign, CacheOutcome::Miss);
    // A new cache over the same dir with the same secret (a restart) hits.
    let _ = cache.get_or_compile(&sandbox(), &sha, &bytes).unwrap();
    let restarted = CompileCache::new(dir.path(), &sandbox(), secret).unwrap();
    let (component, second) = restarted.get_or_compile(&sandbox(), &sha, &bytes).unwrap();
    assert_eq!(second, CacheOutcome::Hit);
    // The cached component really works.
    lucid::runtime::plugin::Auditor::from_component(
        &sandbox(),
        component,
        sha.clone(),
        bytes.len() as u64,
        &Default::default(),
    )
    .unwrap();

    // Corrupt the entry: it is discarded and the plugin compiled again.
    let entry = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        .unwrap()
        .path();
    let mut data = std::fs::read(&entry).unwrap();
    let last = data.len() - 1;
    data[last] ^= 0xff;
    std::fs::write(&entry, &data).unwrap();
    let (_, third) = restarted.get_or_compile(&sandbox(), &sha, &bytes).unwrap();
    assert_eq!(third, CacheOutcome::Miss);
    let (_, fourth) = restarted.get_or_compile(&sandbox(), &sha, &bytes).unwrap();
    assert_eq!(fourth, CacheOutcome::Hit);

    // An entry copied under another plugin's key is not trusted.
    let other_bytes = std::fs::read(plugin("pii")).unwrap();
    let other_sha = lucid::runtime::plugin::sha256_hex(&other_bytes);
    let (_, miss) = restarted
        .get_or_compile(&sandbox(), &other_sha, &other_bytes)
        .unwrap();
    assert_eq!(miss, CacheOutcome::Miss);
    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(entries.len(), 2, "{entries:?}");
    std::fs::copy(&entries[0], &entries[1]).unwrap();
    let (_, a) = restarted.get_or_compile(&sandbox(), &sha, &bytes).unwrap();
    let (_, b) = restarted
        .get_or_compile(&sandbox(), &other_sha, &other_bytes)
        .unwrap();
    assert!(
        a == CacheOutcome::Miss || b == CacheOutcome::Miss,
        "a swapped entry must not be trusted for the other key"
    );
}

#[test]
fn require_signed_loads_only_plugins_signed_by_a_trusted_key() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("plugins");
    let trusted = root.path().join("trusted");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&trusted).unwrap();
    let publisher = root.path().join("publisher");
    notary::keygen(&publisher).unwrap();
    std::fs::copy(
        root.path().join("publisher.pub"),
        trusted.join("publisher.pub"),
    )
    .unwrap();
    let stranger = root.path().join("stranger");
    notary::keygen(&stranger).unwrap();

    let sign = |file: &str, key: &Path| {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let doc = notary::sign_digest(
            &notary::read_secret_key(key).unwrap(),
            &lucid::runtime::plugin::sha256_hex(&bytes),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("{file}.sig")),
            serde_json::to_vec(&doc).unwrap(),
        )
        .unwrap();
    };
    copy(&plugin("pii"), &dir, "pii.wasm");
    sign("pii.wasm", &publisher);
    copy(&plugin("injection"), &dir, "injection.wasm");
    copy(&plugin("token_budget"), &dir, "token_budget.wasm");
    sign("token_budget.wasm", &stranger);
    copy(&guest("empty"), &dir, "empty.wasm");
    sign("empty.wasm", &publisher);
    // Tamper after signing.
    let mut bytes = std::fs::read(dir.join("empty.wasm")).unwrap();
    bytes.extend_from_slice(b"\0");
    std::fs::write(dir.join("empty.wasm"), bytes).unwrap();

    let keys = Arc::new(TrustedKeys::load_dir(&trusted).unwrap());
    let set = loader(Admission {
        trusted_keys: Some(keys),
        ..Admission::default()
    })
    .scan(&dir, None)
    .unwrap();
    assert_eq!(set.plugins.len(), 1);
    assert!(set.get("pii").is_some());
    assert!(refusal(&set, "injection.wasm").contains("not signed"));
    assert!(refusal(&set, "token_budget.wasm").contains("not among the trusted keys"));
    assert!(refusal(&set, "empty.wasm").contains("signature is for sha256"));
}
