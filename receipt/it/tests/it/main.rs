//! The real receipt signer component, run in wasmtime 48: it signs a chain that `lucid-ar`
//! verifies, splices across a restart, refuses what it must refuse, and never shows its key.

mod python;
mod signer;
