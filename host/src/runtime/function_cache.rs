//! Cranelift's incremental compilation cache, kept in memory for the life of the process.
//!
//! A Python or JavaScript auditor is mostly its language runtime (libpython, SpiderMonkey): tens
//! of thousands of functions that are byte-for-byte the same in every auditor built with the same
//! toolchain; the author's code lives in the pre-initialised data, not in compiled functions. With
//! this store Cranelift compiles each distinct function once per process, so the second Python
//! auditor dropped into the plugin directory compiles in a fraction of the first one's time.
//!
//! The store lives only in this process's memory: whatever it holds was compiled here, by this
//! compiler, so there is nothing to authenticate (unlike the `.cwasm` files of [`super::cache`]).
//! Its keys are Cranelift's hashes of each function's input and settings. It is bounded: once
//! full, new functions are compiled but no longer kept.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;

use wasmtime::CacheStore;

/// What the store keeps at most, keys and values together.
pub const FUNCTION_CACHE_BYTES: usize = 512 << 20;

/// A bounded in-memory [`CacheStore`].
#[derive(Debug)]
pub struct FunctionCache {
    inner: Mutex<Entries>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<Vec<u8>, Vec<u8>>,
    bytes: usize,
}

impl FunctionCache {
    pub fn new(capacity: usize) -> Self {
        FunctionCache {
            inner: Mutex::new(Entries::default()),
            capacity,
        }
    }

    /// Entries and bytes held.
    pub fn usage(&self) -> (usize, usize) {
        let entries = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        (entries.map.len(), entries.bytes)
    }
}

impl CacheStore for FunctionCache {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        let entries = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        entries.map.get(key).map(|v| Cow::Owned(v.clone()))
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        let mut entries = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let size = key.len() + value.len();
        if entries.map.contains_key(key) {
            return true;
        }
        if entries.bytes + size > self.capacity {
            return false;
        }
        entries.bytes += size;
        entries.map.insert(key.to_vec(), value);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_entries_until_full() {
        let cache = FunctionCache::new(20);
        assert!(cache.insert(b"k1", vec![1; 8]));
        assert_eq!(cache.get(b"k1").as_deref(), Some(&[1u8; 8][..]));
        assert!(
            cache.insert(b"k1", vec![2; 8]),
            "a key already held is kept"
        );
        assert_eq!(cache.get(b"k1").as_deref(), Some(&[1u8; 8][..]));
        assert!(!cache.insert(b"k2", vec![3; 12]), "over capacity: not kept");
        assert!(cache.get(b"k2").is_none());
        assert!(cache.insert(b"k3", vec![4; 4]));
        assert_eq!(cache.usage(), (2, 16));
    }
}
