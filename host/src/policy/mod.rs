//! Policy glue: the Cedar policy set in force (validated against the schema of the loaded
//! auditors, hot-reloaded) and the per-phase decision over a phase's claims; and the per-scope
//! overrides of auditor settings within each org's enforcement.
//!
//! Owns: turning claims into decisions and scopes into effective settings. Must not depend on
//! `evidence`, `exchange`, `gateway` or `cli`. The Cedar engine itself is the `lucid-policy` crate.

mod decision;
pub mod overrides;

pub use decision::*;
