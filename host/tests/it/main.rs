//! Integration tests of the `lucid` host against real auditor components.
//!
//! The components are built by `cargo xtask test` (or `cargo xtask build`) into `plugins/`.

mod catalogue;
mod cli;
mod exchange;
mod hostile;
mod plugin_dir;
mod postgres;
mod receipts;
mod redact;
mod runtime;
mod util;
