//! Lucid's host: one process, split into rooms by concern (see ARCHITECTURE.md for the map and
//! what each room must not depend on). From the bottom up:
//!
//! - [`config`]: `lucid.toml` as data (no behaviour beyond parsing).
//! - [`runtime`]: the plugin runtime — auditor components loaded, measured, sandboxed and run.
//! - [`policy`]: Cedar decisions over a phase's claims, and per-scope settings overrides.
//! - [`evidence`]: the receipt signer component, the receipt service and the evidence stores.
//! - [`attestation`]: SEV-SNP (or mock) reports binding the gateway's measured state.
//! - [`exchange`]: one chat exchange from request to outcome, without HTTP.
//! - [`passport`]: an exchange's AI Passport as checked facts (shared by the CLI and the UI).
//! - [`gateway`]: the HTTP edge (axum on hyper) that drives exchanges and serves the admin API.
//! - [`app`]: the wiring that builds a running gateway from its options (the `lucid` binary's
//!   command line, in `src/cli/`, only parses arguments into them).

pub mod app;
pub mod attestation;
pub mod evidence;
pub mod exchange;
pub mod gateway;
pub mod passport;
pub mod policy;
pub mod runtime;

/// `lucid.toml` as data: the crate `lucid-config` (`host/config/`), kept out of the host so the
/// fuzz targets build it without wasmtime.
pub use lucid_config as config;
