//! Lucid's host: loads auditor plugins into a sandbox, runs them over exchanges and (in later
//! modules) decides with Cedar and signs receipts. See ARCHITECTURE.md for the map.

pub mod ar;
pub mod bindings;
pub mod cache;
pub mod claim;
pub mod cli;
pub mod config;
pub mod evidence;
pub mod evidence_pg;
pub mod gateway;
pub mod plugin;
pub mod plugin_dir;
pub mod policy;
pub mod receipt;
pub mod receipts;
pub mod reload;
pub mod runtime;
pub mod sandbox;
pub mod scopes;
pub mod signing;
pub mod vocabulary;
