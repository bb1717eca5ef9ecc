//! Hot reload of the plugin directory: a `notify` watcher triggers a rescan; the new set is
//! swapped in atomically. Requests hold the `Arc<PluginSet>` they started with, so in-flight work
//! finishes on the old set while new work sees the new one.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use crate::runtime::plugin_dir::{
    EntryStatus, PluginDirError, PluginEntry, PluginLoader, PluginSet,
};

/// Events closer together than this are handled by one rescan.
const DEBOUNCE: Duration = Duration::from_millis(40);
/// While a file is waiting to validate (a newer version is not loaded yet), rescan this often
/// even without events.
const RETRY: Duration = Duration::from_millis(500);

/// The plugin directory and the set loaded from it.
pub struct PluginHost {
    path: PathBuf,
    loader: Mutex<PluginLoader>,
    current: RwLock<Arc<PluginSet>>,
}

impl PluginHost {
    /// Scan `path` once; fails when the directory cannot be read at all.
    pub fn open(path: &Path, mut loader: PluginLoader) -> Result<Self, PluginDirError> {
        let set = loader.scan(path, None)?;
        set.log_refusals(None);
        Ok(PluginHost {
            path: path.to_path_buf(),
            loader: Mutex::new(loader),
            current: RwLock::new(Arc::new(set)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The set in force. Cheap; callers keep the `Arc` for the whole of their work.
    pub fn current(&self) -> Arc<PluginSet> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Rescan; swap in and return the new set if anything changed.
    pub fn reload(&self) -> Result<Option<Arc<PluginSet>>, PluginDirError> {
        let mut loader = self
            .loader
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let previous = self.current();
        let next = loader.scan(&self.path, Some(&previous))?;
        if same_listing(&previous.entries, &next.entries) {
            return Ok(None);
        }
        next.log_refusals(Some(&previous));
        let next = Arc::new(next);
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = next.clone();
        Ok(Some(next))
    }

    /// Whether a newer version of a loaded file is waiting to validate.
    fn pending(&self) -> bool {
        self.current()
            .entries
            .iter()
            .any(|e| e.status == EntryStatus::Loaded && e.reason.is_some())
    }
}

fn same_listing(a: &[PluginEntry], b: &[PluginEntry]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.file == y.file && x.status == y.status && x.sha256 == y.sha256 && x.reason == y.reason
        })
}

/// Keeps the watcher alive; dropping it stops watching.
pub struct WatchGuard {
    _watcher: notify::RecommendedWatcher,
}

/// Watch the plugin directory and call `on_change` with every new set.
pub fn watch(
    host: Arc<PluginHost>,
    on_change: impl Fn(&Arc<PluginSet>) + Send + 'static,
) -> notify::Result<WatchGuard> {
    let (tx, rx) = channel::<()>();
    let kick = tx.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            let _ = tx.send(());
        }
    })?;
    watcher.watch(host.path(), RecursiveMode::NonRecursive)?;
    // Files that changed between the first scan and now raised no event: rescan once.
    let _ = kick.send(());
    std::thread::Builder::new()
        .name("lucid-plugin-watch".into())
        .spawn(move || {
            loop {
                let timeout = if host.pending() {
                    RETRY
                } else {
                    Duration::from_secs(3600)
                };
                match rx.recv_timeout(timeout) {
                    Ok(()) => {
                        // Let a burst of events (a copy in several writes) settle.
                        std::thread::sleep(DEBOUNCE);
                        while rx.try_recv().is_ok() {}
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
                match host.reload() {
                    Ok(Some(set)) => on_change(&set),
                    Ok(None) => {}
                    Err(e) => tracing::error!("plugin reload failed, keeping the loaded set: {e}"),
                }
            }
        })
        .map_err(|e| notify::Error::generic(&e.to_string()))?;
    Ok(WatchGuard { _watcher: watcher })
}
