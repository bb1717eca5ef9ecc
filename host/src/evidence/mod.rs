//! Evidence: the receipt signer component (it owns the key and the chain tip), the receipt
//! service (one thread that signs cores in arrival order and commits them durably before
//! acknowledging), and the evidence stores (SQLite, PostgreSQL) with stored-chain verification.
//!
//! Owns: signing and storing ARs. Must not depend on `runtime` (beyond the shared wasmtime
//! engine and measuring helpers), `policy`, `exchange`, `gateway` or `cli`: it takes AR cores as
//! JSON and knows nothing of auditors, Cedar or HTTP.

pub mod postgres;
pub mod service;
pub mod signer;
mod store;

pub use store::*;
