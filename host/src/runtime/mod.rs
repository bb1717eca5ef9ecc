//! The plugin runtime: auditor components read from the plugin directory, measured (SHA-256 of
//! the exact bytes), admitted (world, version, size, notarization), compiled (with a cache),
//! described (vocabulary checked), hot-reloaded, and run over a phase in fresh sandboxed
//! instances whose claims are checked against the contract.
//!
//! Owns: everything that touches wasmtime for auditors. Must not depend on `policy`,
//! `evidence`, `exchange`, `gateway` or `cli`; it knows nothing of Cedar, receipts or HTTP.

mod auditing;
pub mod bindings;
pub mod cache;
pub mod claim;
pub mod function_cache;
pub mod notary;
pub mod plugin;
pub mod plugin_dir;
pub mod reload;
pub mod run_config;
mod runner;
pub mod sandbox;
pub mod vocabulary;

pub use auditing::*;
pub use runner::*;
